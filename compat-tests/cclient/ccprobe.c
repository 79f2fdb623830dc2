/*
 * ccprobe: a tiny driver for libzookeeper-mt (the C client) for what cli_mt
 * cannot express: versioned set/delete, ACLs, multi, watch removal, session
 * re-attach and timeout negotiation. Reads one command per line on stdin,
 * runs it synchronously and prints one deterministic result line (plus
 * indented detail lines) on stdout; watch events arrive asynchronously as
 * "event type=... state=... path=..." lines, session events as
 * "session state=..." lines.
 *
 *   connect HOST TIMEOUT_MS      connected session=0x.. timeout=N
 *   reattach                     second handle with this session's id and
 *                                password: reattach same=yes|no state=..
 *   badpass                      handle with this id and a wrong password:
 *                                badpass state=..
 *   auth SCHEME CRED             auth rc=N
 *   create PATH DATA MODE ACL    create PATH rc=N name=..   MODE p|e|s|es
 *   get PATH [w]                 get PATH rc=N data=.. version=N
 *   set PATH DATA VERSION        set PATH rc=N version=N
 *   delete PATH VERSION          delete PATH rc=N
 *   exists PATH [w]              exists PATH rc=N
 *   getacl PATH                  getacl PATH rc=N aversion=N count=N + "  acl .."
 *   setacl PATH VERSION ACL      setacl PATH rc=N
 *   multi OP...                  multi rc=N + "  op I rc=N .."
 *                                OP: c:/p  s:/p:VER  k:/p:VER  d:/p:VER
 *   rmwatch PATH data|child|any  rmwatch PATH rc=N
 *   sleep MS
 * DATA "@null" sends no data (length -1), "@empty" zero bytes; get prints a
 * node without data as data=@null.
 * ACL: SCHEME:ID:PERMS (PERMS as an integer, e.g. world:anyone:31,
 * digest:alice:HASH:31); several joined with ','.
 */
#include <zookeeper/zookeeper.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static zhandle_t *zh;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...) {
    va_list ap;
    pthread_mutex_lock(&out_lock);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
    pthread_mutex_unlock(&out_lock);
}

static const char *state_name(int s) {
    if (s == ZOO_CONNECTED_STATE) return "CONNECTED";
    if (s == ZOO_CONNECTING_STATE) return "CONNECTING";
    if (s == ZOO_ASSOCIATING_STATE) return "ASSOCIATING";
    if (s == ZOO_EXPIRED_SESSION_STATE) return "EXPIRED_SESSION";
    if (s == ZOO_AUTH_FAILED_STATE) return "AUTH_FAILED";
    if (s == ZOO_READONLY_STATE) return "READONLY";
    if (s == ZOO_NOTCONNECTED_STATE) return "NOTCONNECTED";
    if (s == 0) return "CLOSED";
    return "UNKNOWN";
}

static const char *type_name(int t) {
    if (t == ZOO_CREATED_EVENT) return "CREATED";
    if (t == ZOO_DELETED_EVENT) return "DELETED";
    if (t == ZOO_CHANGED_EVENT) return "CHANGED";
    if (t == ZOO_CHILD_EVENT) return "CHILD";
    if (t == ZOO_SESSION_EVENT) return "SESSION";
    if (t == ZOO_NOTWATCHING_EVENT) return "NOTWATCHING";
    return "UNKNOWN";
}

static void watcher(zhandle_t *h, int type, int state, const char *path, void *ctx) {
    (void)h;
    (void)ctx;
    if (type == ZOO_SESSION_EVENT) {
        say("session state=%s\n", state_name(state));
        return;
    }
    say("event type=%s state=%s path=%s\n", type_name(type), state_name(state),
        path ? path : "");
}

static void quiet_watcher(zhandle_t *h, int type, int state, const char *path, void *ctx) {
    (void)h; (void)type; (void)state; (void)path; (void)ctx;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Waits up to ms for the handle to leave the connecting states. */
static int settle(zhandle_t *h, int ms) {
    int s = zoo_state(h);
    for (int waited = 0; waited < ms; waited += 10) {
        s = zoo_state(h);
        if (s != ZOO_CONNECTING_STATE && s != ZOO_ASSOCIATING_STATE && s != ZOO_NOTCONNECTED_STATE)
            return s;
        sleep_ms(10);
    }
    return s;
}

static int parse_acl(char *spec, struct ACL_vector *v) {
    int n = 1;
    for (char *p = spec; *p; p++) if (*p == ',') n++;
    v->count = 0;
    v->data = calloc(n, sizeof(struct ACL));
    for (char *tok = strtok(spec, ","); tok; tok = strtok(NULL, ",")) {
        char *c1 = strchr(tok, ':');
        char *c2 = strrchr(tok, ':');
        if (!c1 || c1 == c2) return -1;
        *c1 = '\0';
        *c2 = '\0';
        v->data[v->count].id.scheme = tok;
        v->data[v->count].id.id = c1 + 1;
        v->data[v->count].perms = atoi(c2 + 1);
        v->count++;
    }
    return 0;
}

static int mode_of(const char *m) {
    if (!strcmp(m, "e")) return ZOO_EPHEMERAL;
    if (!strcmp(m, "s")) return ZOO_PERSISTENT_SEQUENTIAL;
    if (!strcmp(m, "es")) return ZOO_EPHEMERAL_SEQUENTIAL;
    return ZOO_PERSISTENT;
}

static const char *data_of(const char *d, int *len) {
    if (!strcmp(d, "@null")) { *len = -1; return NULL; }
    if (!strcmp(d, "@empty")) { *len = 0; return ""; }
    *len = strlen(d);
    return d;
}

static volatile int auth_done, auth_rc;
static void auth_completion(int rc, const void *data) {
    (void)data;
    auth_rc = rc;
    auth_done = 1;
}

static void run(char *line) {
    char *argv[64];
    int argc = 0;
    for (char *t = strtok(line, " \t\r\n"); t && argc < 63; t = strtok(NULL, " \t\r\n"))
        argv[argc++] = t;
    argv[argc] = NULL;
    if (argc == 0 || argv[0][0] == '#') return;
    const char *cmd = argv[0];
    int rc;

    if (!strcmp(cmd, "connect") && argc == 3) {
        zh = zookeeper_init(argv[1], watcher, atoi(argv[2]), 0, 0, 0);
        int s = zh ? settle(zh, 15000) : -1;
        if (s == ZOO_CONNECTED_STATE)
            say("connected session=0x%llx timeout=%d\n",
                (long long)zoo_client_id(zh)->client_id, zoo_recv_timeout(zh));
        else
            say("connect failed state=%s\n", state_name(s));
    } else if (!strcmp(cmd, "reattach")) {
        const clientid_t *id = zoo_client_id(zh);
        zhandle_t *h2 = zookeeper_init(zoo_get_current_server(zh), quiet_watcher,
                                       zoo_recv_timeout(zh), id, 0, 0);
        int s = settle(h2, 15000);
        say("reattach same=%s state=%s\n",
            zoo_client_id(h2)->client_id == id->client_id ? "yes" : "no", state_name(s));
        /* h2 now owns the session; closing it would end the session. */
    } else if (!strcmp(cmd, "badpass")) {
        clientid_t id = *zoo_client_id(zh);
        id.passwd[0] ^= 0x5a;
        id.passwd[5] ^= 0x5a;
        zhandle_t *h2 = zookeeper_init(zoo_get_current_server(zh), quiet_watcher,
                                       zoo_recv_timeout(zh), &id, 0, 0);
        int s = settle(h2, 15000);
        say("badpass state=%s\n", state_name(s));
    } else if (!strcmp(cmd, "auth") && argc == 3) {
        auth_done = 0;
        rc = zoo_add_auth(zh, argv[1], argv[2], strlen(argv[2]), auth_completion, 0);
        for (int i = 0; rc == ZOK && !auth_done && i < 1000; i++) sleep_ms(10);
        say("auth rc=%d\n", rc != ZOK ? rc : (auth_done ? auth_rc : -7));
    } else if (!strcmp(cmd, "create") && argc == 5) {
        struct ACL_vector acl;
        char name[512] = "";
        int dlen;
        const char *d = data_of(argv[2], &dlen);
        if (parse_acl(argv[4], &acl)) { say("bad acl\n"); return; }
        rc = zoo_create(zh, argv[1], d, dlen, &acl, mode_of(argv[3]), name, sizeof(name));
        say("create %s rc=%d name=%s\n", argv[1], rc, rc == ZOK ? name : "");
        free(acl.data);
    } else if (!strcmp(cmd, "get") && argc >= 2) {
        char buf[1024];
        int len = sizeof(buf) - 1;
        struct Stat st;
        memset(&st, 0, sizeof(st));
        rc = zoo_get(zh, argv[1], argc > 2, buf, &len, &st);
        if (rc == ZOK && len < 0) strcpy(buf, "@null");
        else buf[rc == ZOK ? len : 0] = '\0';
        say("get %s rc=%d data=%s version=%d\n", argv[1], rc, buf, rc == ZOK ? st.version : -1);
    } else if (!strcmp(cmd, "set") && argc == 4) {
        struct Stat st;
        memset(&st, 0, sizeof(st));
        int dlen;
        const char *d = data_of(argv[2], &dlen);
        rc = zoo_set2(zh, argv[1], d, dlen, atoi(argv[3]), &st);
        say("set %s rc=%d version=%d\n", argv[1], rc, rc == ZOK ? st.version : -1);
    } else if (!strcmp(cmd, "delete") && argc == 3) {
        rc = zoo_delete(zh, argv[1], atoi(argv[2]));
        say("delete %s rc=%d\n", argv[1], rc);
    } else if (!strcmp(cmd, "exists") && argc >= 2) {
        struct Stat st;
        rc = zoo_exists(zh, argv[1], argc > 2, &st);
        say("exists %s rc=%d\n", argv[1], rc);
    } else if (!strcmp(cmd, "getacl") && argc == 2) {
        struct ACL_vector acl;
        struct Stat st;
        memset(&acl, 0, sizeof(acl));
        memset(&st, 0, sizeof(st));
        rc = zoo_get_acl(zh, argv[1], &acl, &st);
        say("getacl %s rc=%d aversion=%d count=%d\n", argv[1], rc, st.aversion, acl.count);
        for (int i = 0; rc == ZOK && i < acl.count; i++)
            say("  acl %d %s:%s\n", acl.data[i].perms, acl.data[i].id.scheme, acl.data[i].id.id);
        if (rc == ZOK) deallocate_ACL_vector(&acl);
    } else if (!strcmp(cmd, "setacl") && argc == 4) {
        struct ACL_vector acl;
        if (parse_acl(argv[3], &acl)) { say("bad acl\n"); return; }
        rc = zoo_set_acl(zh, argv[1], atoi(argv[2]), &acl);
        say("setacl %s rc=%d\n", argv[1], rc);
        free(acl.data);
    } else if (!strcmp(cmd, "multi") && argc >= 2) {
        int n = argc - 1;
        zoo_op_t ops[32];
        zoo_op_result_t res[32];
        char names[32][256];
        struct Stat stats[32];
        memset(res, 0, sizeof(res));
        for (int i = 0; i < n; i++) {
            char *spec = argv[i + 1];
            char kind = spec[0];
            char *path = spec + 2;
            char *ver = strchr(path, ':');
            int version = -1;
            if (ver) { *ver = '\0'; version = atoi(ver + 1); }
            names[i][0] = '\0';
            switch (kind) {
            case 'c':
                zoo_create_op_init(&ops[i], path, "m", 1, &ZOO_OPEN_ACL_UNSAFE, 0,
                                   names[i], sizeof(names[i]));
                break;
            case 's':
                zoo_set_op_init(&ops[i], path, "m", 1, version, &stats[i]);
                break;
            case 'k':
                zoo_check_op_init(&ops[i], path, version);
                break;
            default:
                zoo_delete_op_init(&ops[i], path, version);
                break;
            }
        }
        rc = zoo_multi(zh, n, ops, res);
        say("multi rc=%d\n", rc);
        for (int i = 0; i < n; i++) {
            if (ops[i].type == ZOO_CREATE_OP && res[i].err == ZOK)
                say("  op %d rc=%d name=%s\n", i, res[i].err, names[i]);
            else if (ops[i].type == ZOO_SETDATA_OP && res[i].err == ZOK)
                say("  op %d rc=%d version=%d\n", i, res[i].err, stats[i].version);
            else
                say("  op %d rc=%d\n", i, res[i].err);
        }
    } else if (!strcmp(cmd, "rmwatch") && argc == 3) {
        ZooWatcherType t = !strcmp(argv[2], "data") ? ZWATCHTYPE_DATA
                         : !strcmp(argv[2], "child") ? ZWATCHTYPE_CHILD : ZWATCHTYPE_ANY;
        rc = zoo_remove_all_watches(zh, argv[1], t, 0);
        say("rmwatch %s rc=%d\n", argv[1], rc);
    } else if (!strcmp(cmd, "sleep") && argc == 2) {
        sleep_ms(atoi(argv[1]));
    } else {
        say("unknown command %s\n", cmd);
    }
}

int main(void) {
    char line[4096];
    zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
    zoo_deterministic_conn_order(1);
    while (fgets(line, sizeof(line), stdin)) run(line);
    if (zh) zookeeper_close(zh);
    say("done\n");
    return 0;
}
