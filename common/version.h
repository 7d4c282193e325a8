/* common/version.h: the release of stated and statectl (printed by statectl --version and
 * recorded in the storage layout marker). */
#ifndef STATED_COMMON_VERSION_H
#define STATED_COMMON_VERSION_H

#define STATED_VERSION "0.1.0"

#endif
