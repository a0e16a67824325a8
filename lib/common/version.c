/* Run-time version query: what was loaded, not what was compiled against. */
#include "cosnet.h"

COSNET_API const char *cosnet_version(void)
{
    return COSNET_VERSION_STRING;
}

COSNET_API unsigned cosnet_version_number(void)
{
    return COSNET_VERSION_NUMBER;
}
