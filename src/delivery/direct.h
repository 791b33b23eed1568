// What a delivery needs to connect to a server itself: TCP, TLS (OpenSSL),
// and the SASL client (Cyrus, or an OAuth token from the store, refreshed
// over HTTP). Only the authrelay program links this file; authrelay-reuse
// (what master.cf may run with connection sharing on) delivers over held
// sessions without it, so it never loads libssl, libcrypto or libsasl2
// (docs/DESIGN.md §9).
#pragma once

#include <memory>
#include <string>

#include "config/settings.h"
#include "delivery/attempt.h"

namespace authrelay {

// TCP with smtp_connect_timeout and smtp_bind_address(6), then TLS as the
// session asks for it.
std::unique_ptr<Connector> SystemConnector(long connect_timeout, std::string bind_address, std::string bind_address6,
                                           std::string inet_protocols = "all");

// The SASL client for credentials on a direct connection: Cyrus for a
// password, the token store for OAuth (a refresh goes through the same
// egress proxy and gets what is left of the run's deadline).
DeliveryAttempt::SaslFactoryMaker SystemSaslFactoryMaker(const Settings& s);

}  // namespace authrelay
