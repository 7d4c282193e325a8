/* common/version.h: the release of stated, statectl and stackgen (their --version, the Debian
 * package's version, and the storage layout marker's "by"). */
#ifndef STATED_COMMON_VERSION_H
#define STATED_COMMON_VERSION_H

#define STATED_VERSION "0.2.0"

#endif
