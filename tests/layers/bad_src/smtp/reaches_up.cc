// Fixture for the layers_include_check test, never compiled: a file of the
// smtp layer that includes a layer smtp may not see and OpenSSL.
#include <openssl/ssl.h>

#include "smtp/session.h"
#include "tls/tls_client.h"
