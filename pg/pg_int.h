/* pg/pg_int.h: what the files of pg/ share (not part of the API in pg/pg.h). */
#ifndef STATED_PG_INT_H
#define STATED_PG_INT_H

#include "common/err.h"
#include "pg/pg.h"

/* Applies the schema migrations not yet recorded (pg/schema.c). Called once per pool, by
 * pgconn_pool_ref, before the pool is shared. */
int pg__migrate(struct pgconn_pool *p, struct err *err);

#endif
