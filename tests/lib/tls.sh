# tests/lib/tls.sh: throwaway certificates for the TLS and mTLS tests.
#
#   tls_make_certs DIR   writes into DIR (EC P-256, valid one day):
#     ca.pem ca.key            the test CA
#     server.pem server.key    server certificate, SAN IP:127.0.0.1 and DNS:localhost
#     client.pem client.key    client certificate signed by the CA (CN "ci-runner")
#     rogue-ca.pem rogue.pem rogue.key   a client certificate from another CA
#   Returns non-zero (message on stderr) when openssl fails.

tls_make_certs() {
  local d=$1
  mkdir -p "$d"
  (
    set -e
    cd "$d"
    gen() { openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
      -keyout "$1.key" -out "$1.pem" -subj "/CN=$2" \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign; }
    leaf() { # leaf NAME CN CA EXT
      openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$2"
      printf '%s\n' "$4" >"$1.ext"
      openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key" -CAcreateserial -days 1 \
        -extfile "$1.ext" -out "$1.pem"
    }
    gen ca "stated test CA"
    gen rogue-ca "someone else's CA"
    leaf server 127.0.0.1 ca "subjectAltName=IP:127.0.0.1,DNS:localhost
extendedKeyUsage=serverAuth"
    leaf client ci-runner ca "extendedKeyUsage=clientAuth"
    leaf rogue intruder rogue-ca "extendedKeyUsage=clientAuth"
  ) >"$d/openssl.log" 2>&1 || { tail -n 5 "$d/openssl.log" >&2; return 1; }
}
