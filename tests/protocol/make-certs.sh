#!/bin/bash
# Makes a throwaway CA and server certificates for the protocol tests.
set -euo pipefail
d=$1
rm -rf "$d"; mkdir -p "$d"; cd "$d"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=authrelay protocol test CA" \
  -keyout ca.key -out ca.pem -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null
issue() {  # name SAN
  openssl req -newkey rsa:2048 -nodes -subj "/CN=$1" -keyout "$1.key" -out "$1.csr" 2>/dev/null
  printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$2" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile "$1.ext" -out "$1.pem" 2>/dev/null
}
issue server "DNS:mx.test,IP:127.0.0.1"
issue wrong "DNS:other.test"
# A client certificate (clientAuth) for smtp_tls_cert_file.
openssl req -newkey rsa:2048 -nodes -subj "/CN=relay-client.test" -keyout client.key -out client.csr 2>/dev/null
printf 'extendedKeyUsage=clientAuth\n' > client.ext
openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile client.ext -out client.pem 2>/dev/null
# Self-signed for the right name.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=mx.test" -addext "subjectAltName=DNS:mx.test" \
  -keyout selfsigned.key -out selfsigned.pem 2>/dev/null
# Expired and not yet valid, signed by the CA (openssl ca sets the dates).
mkdir -p ca-db && : > ca-db/index.txt && echo 1000 > ca-db/serial
cat > ca.cnf <<CNF
[ca]
default_ca = test
[test]
dir = .
database = ca-db/index.txt
serial = ca-db/serial
new_certs_dir = ca-db
default_md = sha256
policy = any
copy_extensions = copy
unique_subject = no
[any]
commonName = supplied
CNF
dated() {  # name start end
  openssl req -newkey rsa:2048 -nodes -subj "/CN=mx.test" -addext "subjectAltName=DNS:mx.test" \
    -keyout "$1.key" -out "$1.csr" 2>/dev/null
  openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -startdate "$2" -enddate "$3" \
    -in "$1.csr" -out "$1.pem" 2>/dev/null
}
dated expired 20200101000000Z 20200102000000Z
dated notyet 20991231000000Z 21000101000000Z
echo "test certificates in $d"
