#!/bin/sh
# Makes the TLS fixture's certificates in $1: a test CA, and leaf certificates signed by it that
# are valid (localhost, 127.0.0.1), expired (2020), for the wrong name, and close to expiry (5 days);
# and chained.pem: a leaf valid 20 days signed by an intermediate CA that ends in 3 days, both served.
set -eu
dir=$1
cd "$dir"
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 30 -subj "/CN=Pinguin Test CA" 2>/dev/null
mkdir -p db/new && : > db/index.txt && echo 1000 > db/serial
cat > ca.cnf <<CNF
[ca]
default_ca = test
[test]
dir = $dir/db
database = \$dir/index.txt
new_certs_dir = \$dir/new
serial = \$dir/serial
certificate = $dir/ca.pem
private_key = $dir/ca.key
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = copy
[anything]
commonName = supplied
CNF
leaf() { # name, subject CN, SAN, then openssl ca date options
  name=$1 cn=$2 san=$3; shift 3
  openssl req -newkey rsa:2048 -nodes -keyout "$name.key" -out "$name.csr" -subj "/CN=$cn" -addext "subjectAltName=$san" 2>/dev/null
  openssl ca -batch -config ca.cnf -in "$name.csr" -out "$name.pem" -notext "$@" 2>/dev/null
}
leaf valid localhost "DNS:localhost,IP:127.0.0.1,IP:::1" -days 30
leaf expired localhost "DNS:localhost,IP:127.0.0.1,IP:::1" -startdate 20200101000000Z -enddate 20200201000000Z
leaf wrongname wrong.example "DNS:wrong.example" -days 30
leaf soon localhost "DNS:localhost,IP:127.0.0.1,IP:::1" -days 5
openssl req -newkey rsa:2048 -nodes -keyout intermediate.key -out intermediate.csr -subj "/CN=Pinguin Test Intermediate" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl ca -batch -config ca.cnf -in intermediate.csr -out intermediate.pem -notext -days 3 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout chained.key -out chained.csr -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" 2>/dev/null
openssl x509 -req -in chained.csr -CA intermediate.pem -CAkey intermediate.key -CAcreateserial -days 20 -copy_extensions copy -out chained-leaf.pem 2>/dev/null
cat chained-leaf.pem intermediate.pem > chained.pem
