/*
 * handshake.h - the cluster token and the hello that opens every
 * connection of the counter example (peer to peer and client to server).
 *
 * Every server and client reads the cluster token from a file
 * (--token-file). The connecting side sends a hello first, and the
 * accepting side reads nothing else from the connection until the hello
 * has passed every check: its token must equal the node's own (compared in
 * constant time), and a peer must also name itself as one of the nodes in
 * the node's address book (--peers) and mean to reach this node. The
 * token is the cluster's identity: give each cluster its own. Membership
 * (who votes) is the raft library's business, not the hello's: a peer in
 * the address book gets in whether or not it is a member yet, so a node
 * being added can be reached. A connection whose hello fails is
 * closed, so not a single byte after it is read as a message or request.
 *
 * Hello, CTR_HELLO_LEN bytes, little-endian:
 *   0   u8      kind: CTR_HELLO_PEER ('R') or CTR_HELLO_CLIENT ('C')
 *   1   u8[3]   magic "ctr"
 *   4   u8      protocol version, CTR_PROTO_VERSION (3; version 2 carried
 *               a fingerprint of the fixed voter set at 24, version 1 was
 *               the bare kind byte, with no token)
 *   5   u8      token length L, 1..CTR_TOKEN_MAX
 *   6   u8[2]   zero
 *   8   u64     sender: a peer's own node id; 0 for a client
 *   16  u64     target: the node id a peer means to reach; 0 for a client
 *   24  u64     zero (reserved)
 *   32  u8[128] token: L bytes, then zeros
 *
 * A peer follows its hello with raft wire-format messages
 * (docs/wire-format.md), a client with requests (proto.h). A refused
 * client or peer gets one response (proto.h) with status CTR_REFUSED and
 * the reason (enum ctr_refusal) in its value field, and the connection
 * closes; nothing else is ever sent to it. A caller whose first byte is
 * neither 'R' nor 'C' speaks another protocol and gets nothing.
 *
 * What the token does and does not do: it proves that the other side was
 * given the cluster's token file. It is sent in the clear and nothing
 * protects the bytes that follow, so anyone who can watch or alter the
 * traffic can learn the token or tamper with messages. Run the cluster on
 * a trusted network or through a tunnel (ssh, WireGuard), and keep the
 * token file private.
 */
#ifndef COUNTER_HANDSHAKE_H
#define COUNTER_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CTR_PROTO_VERSION 3u
#define CTR_HELLO_LEN 160u
#define CTR_TOKEN_MIN 16u  /* a shorter token is too easy to guess */
#define CTR_TOKEN_MAX 128u
#define CTR_TOKEN_ERR_MAX 512u

/* The cluster token; bytes after len are zero. */
struct ctr_token {
    size_t len;
    uint8_t bytes[CTR_TOKEN_MAX];
};

/* A decoded hello. */
struct ctr_hello {
    uint8_t kind;
    struct ctr_token token;
    uint64_t sender, target;
};

/* Why a hello was refused; also the value of a CTR_REFUSED response. */
enum ctr_refusal {
    CTR_REFUSE_NONE = 0,
    CTR_REFUSE_KIND = 1,    /* first byte is neither 'R' nor 'C' */
    CTR_REFUSE_MAGIC = 2,   /* not a hello: an older version, another protocol */
    CTR_REFUSE_VERSION = 3, /* another protocol version */
    CTR_REFUSE_FORMAT = 4,  /* a bad length or a non-zero reserved field */
    CTR_REFUSE_TOKEN = 5,   /* wrong cluster token */
    CTR_REFUSE_PEER = 6     /* right token, but an id that is not in our
                             * address book, our own id, or a hello meant
                             * for another node */
};

/*
 * Read the token from the file at path: its whole content, less one
 * trailing newline. Refused (-1, with a message naming the file and the
 * rule in err) if the file cannot be read, is not a regular file, is
 * accessible to group or others (it must be private: chmod 600), or holds
 * fewer than CTR_TOKEN_MIN or more than CTR_TOKEN_MAX bytes.
 */
int ctr_token_read(const char *path, struct ctr_token *t, char *err,
                   size_t errlen);

/* Do a and b hold the same token? Takes the same time whatever the bytes
 * and lengths: every one of the CTR_TOKEN_MAX bytes is compared, with no
 * early exit, so the time taken says nothing about how much matched. */
bool ctr_token_equal(const struct ctr_token *a, const struct ctr_token *b);

/* Encode h into buf (CTR_HELLO_LEN bytes). */
void ctr_hello_encode(const struct ctr_hello *h, uint8_t *buf);

/*
 * Check and decode the first len bytes received on a connection. Returns
 * CTR_REFUSE_NONE with *h filled once a whole well-formed hello is there,
 * a refusal as soon as the bytes so far rule it out (KIND, MAGIC, VERSION,
 * FORMAT), or -1 if more bytes are needed. The token is not checked here.
 */
int ctr_hello_decode(const uint8_t *buf, size_t len, struct ctr_hello *h);

/* Static text for a refusal, for logs and the CLI. */
const char *ctr_refusal_text(int reason);

/* ctr_dial() (proto.h) as a client: connect and send a client hello with
 * token t. The fd, or -1 with *why set. */
int ctr_dial_client(const char *addr, const struct ctr_token *t,
                    uint64_t timeout_ms, const char **why);

#endif
