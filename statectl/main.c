/* backend/main.c: placeholder until the server lands. */
#include <stdio.h>
int main(void)
{
    fputs("statectl: not built yet\n", stderr);
    return 1;
}
