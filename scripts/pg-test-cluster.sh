#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for Fabric's live tests, in one folder.
#
#   scripts/pg-test-cluster.sh start DIR [--install]
#       initdb in DIR/data, start it on a Unix socket in DIR and on a free
#       loopback port (TLS on, with a CA made for the run), create the superuser
#       `fabric` (random password) and the database `fabric_test`, and print
#       `export` lines for: FABRIC_TEST_POSTGRES (Unix socket URL),
#       FABRIC_TEST_POSTGRES_TCP (loopback URL), FABRIC_TEST_POSTGRES_CA (the CA
#       file) and FABRIC_TEST_POSTGRES_DIR. Use it as
#           eval "$(scripts/pg-test-cluster.sh start /tmp/fabric-pg)"
#       --install: apt-get install postgresql first if no server binaries are found.
#   scripts/pg-test-cluster.sh kill DIR     stop at once (pg_ctl stop -m immediate)
#   scripts/pg-test-cluster.sh restart DIR  start again after kill
#   scripts/pg-test-cluster.sh stop DIR     stop and remove DIR
#
# initdb refuses to run as root: as root, the cluster runs as the `postgres`
# user (created by Debian's package) and DIR is handed to it.
set -euo pipefail

cmd=${1:-}
dir=${2:-}
if [ -z "$cmd" ] || [ -z "$dir" ]; then
    echo "usage: $0 start|kill|restart|stop DIR [--install]" >&2
    exit 2
fi

find_bindir() {
    local d
    if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then
        pg_config --bindir
        return
    fi
    for d in $(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V -r); do
        if [ -x "$d/initdb" ]; then
            echo "$d"
            return
        fi
    done
    if command -v initdb >/dev/null 2>&1; then
        dirname "$(command -v initdb)"
        return
    fi
    return 1
}

install_postgres() {
    echo "installing postgresql from Debian" >&2
    export DEBIAN_FRONTEND=noninteractive
    # No cluster of its own: the tests make theirs.
    mkdir -p /etc/postgresql-common
    if [ ! -e /etc/postgresql-common/createcluster.conf ]; then
        echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.conf
    fi
    apt-get update -qq >&2
    apt-get install -y -qq -o Dpkg::Options::=--force-confold postgresql >&2
}

# Run a command as the cluster's owner.
as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u "$owner" -- "$@"
    else
        "$@"
    fi
}

owner=$(id -un)
if [ "$(id -u)" = 0 ]; then
    owner=postgres
    if ! id "$owner" >/dev/null 2>&1; then
        useradd --system --no-create-home --shell /usr/sbin/nologin "$owner"
    fi
fi

bindir=$(find_bindir || true)
if [ -z "$bindir" ] && [ "$cmd" = start ] && [ "${3:-}" = --install ]; then
    install_postgres
    bindir=$(find_bindir || true)
fi
if [ -z "$bindir" ] && [ "$cmd" != stop ]; then
    echo "no PostgreSQL server binaries (initdb, pg_ctl): apt-get install postgresql" >&2
    exit 3
fi

pg_ctl_do() {
    as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 "$@" >&2
}

case "$cmd" in
start)
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    [ "$(id -u)" = 0 ] && chown "$owner" "$dir"
    chmod 700 "$dir"
    password=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
    printf '%s\n' "$password" >"$dir/pwfile"
    [ "$(id -u)" = 0 ] && chown "$owner" "$dir/pwfile"
    as_owner "$bindir/initdb" -D "$dir/data" -U fabric --pwfile="$dir/pwfile" \
        --auth=scram-sha-256 -E UTF8 --locale=C.UTF-8 -N >"$dir/initdb.log" 2>&1 || {
        cat "$dir/initdb.log" >&2
        exit 3
    }
    rm -f "$dir/pwfile"
    # A free loopback port (nothing answers on it).
    port=""
    for _ in $(seq 1 50); do
        p=$((20000 + RANDOM % 30000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            port=$p
            break
        fi
    done
    [ -n "$port" ] || { echo "no free loopback port" >&2; exit 3; }
    ssl=off
    if command -v openssl >/dev/null 2>&1; then
        (
            cd "$dir"
            openssl req -x509 -new -nodes -days 2 -subj "/CN=fabric test CA" \
                -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" \
                -keyout ca.key -out ca.crt
            openssl req -new -nodes -subj "/CN=localhost" -keyout data/server.key -out server.csr
            printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' >ext.cnf
            openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
                -days 2 -extfile ext.cnf -out data/server.crt
            chmod 600 data/server.key
            [ "$(id -u)" = 0 ] && chown "$owner" data/server.key data/server.crt
            rm -f server.csr ext.cnf ca.key ca.srl
        ) >"$dir/openssl.log" 2>&1 && ssl=on
    fi
    cat >>"$dir/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
ssl = $ssl
max_connections = 60
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
    pg_ctl_do start
    socket_host=$(printf '%s' "$dir" | sed 's|/|%2F|g')
    echo "export FABRIC_TEST_POSTGRES='postgres://fabric:$password@$socket_host:$port/fabric_test?sslmode=disable'"
    echo "export FABRIC_TEST_POSTGRES_TCP='postgres://fabric:$password@localhost:$port/fabric_test'"
    [ "$ssl" = on ] && echo "export FABRIC_TEST_POSTGRES_CA='$dir/ca.crt'"
    echo "export FABRIC_TEST_POSTGRES_DIR='$dir'"
    PGPASSWORD=$password "$bindir/psql" -X -q -h "$dir" -p "$port" -U fabric -d postgres \
        -c "CREATE DATABASE fabric_test ENCODING 'UTF8' TEMPLATE template0" >&2
    ;;
kill)
    pg_ctl_do stop -m immediate
    ;;
restart)
    pg_ctl_do start
    ;;
stop)
    if [ -n "$bindir" ] && [ -f "$dir/data/postmaster.pid" ]; then
        pg_ctl_do stop -m immediate || true
    fi
    rm -rf "$dir"
    ;;
*)
    echo "unknown command $cmd" >&2
    exit 2
    ;;
esac
