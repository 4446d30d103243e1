#!/usr/bin/env python3
"""A shared mailbox over IMAP, as Python's imaplib (a client nobody here
wrote) sees it: usage imaplib_shared.py MODE HOST PORT SHARED USER PASSWORD.

MODE "delegate": USER holds FullAccess on SHARED. Checks NAMESPACE and LIST
(the Shared root and the mailbox's root \\Noselect, its folders below them
without special uses), reads every message of Shared/SHARED/INBOX
(printing "HASH <uid> <sha256>"), appends one message marked with USER, and
prints "SEEN <subject>" for every appended message it finds.
MODE "denied": USER holds no permission: neither NAMESPACE nor LIST show
the mailbox, and SELECT, STATUS, APPEND and CREATE under its root fail.
Prints one PASS line per step; exits non-zero at the first that fails."""
import hashlib
import imaplib
import re
import sys

mode, host, port, shared, user, password = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6]
ROOT = "Shared/" + shared
INBOX = ROOT + "/Inbox"


def ok(typ, data, what):
    if typ != "OK":
        sys.exit("FAIL %s: %s %r" % (what, typ, data))
    return data


def q(name):
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def listing(m):
    out = {}
    for line in ok(*m.list('""', '"*"'), "list"):
        mt = re.match(rb'\((?P<attrs>[^)]*)\) "/" (?P<name>.*)$', line)
        name = mt.group("name").decode()
        if name.startswith('"'):
            name = name[1:-1]
        out[name] = mt.group("attrs").decode()
    return out


m = imaplib.IMAP4(host, port)
ok(*m.login(user, password), "login")
print("PASS login", user)
ns = ok(*m.namespace(), "namespace")[0].decode()
lst = listing(m)

if mode == "denied":
    if "Shared/" in ns:
        sys.exit("FAIL namespace shows a shared namespace: " + ns)
    if any(n.startswith("Shared") for n in lst):
        sys.exit("FAIL list shows %r" % sorted(n for n in lst if n.startswith("Shared")))
    for what, (typ, data) in [
        ("select", m.select(q(INBOX), readonly=True)),
        ("status", m.status(q(INBOX), "(MESSAGES)")),
        ("append", m.append(q(INBOX), None, None, b"Subject: intruder\r\n\r\nno\r\n")),
    ]:
        if typ == "OK":
            sys.exit("FAIL %s on %s succeeded without a permission: %r" % (what, INBOX, data))
    print("PASS denied", user)
    m.logout()
    sys.exit(0)

if ns != '(("" "/")) NIL (("Shared/" "/"))':  # personal, other users, shared (RFC 2342)
    sys.exit("FAIL namespace: " + ns)
print("PASS namespace", ns)
for root in ("Shared", ROOT):
    if "\\Noselect" not in lst.get(root, "") or "\\HasChildren" not in lst.get(root, ""):
        sys.exit("FAIL list: %s is %r" % (root, lst.get(root)))
below = sorted(n for n in lst if n.startswith(ROOT + "/"))
for n in below:
    if re.search(r"\\(Sent|Drafts|Trash|Junk|Archive)\b", lst[n]):
        sys.exit("FAIL list: %s has a special use: %s" % (n, lst[n]))
print("PASS list", ROOT, "with", len(below), "folders")
typ, data = m.select(q(ROOT))
if typ == "OK":
    sys.exit("FAIL select of the root succeeded")
print("PASS select root refused")

data = ok(*m.select(q(INBOX)), "select " + INBOX)
n = int(data[0])
if n:
    for part in ok(*m.uid("FETCH", "1:*", "(UID BODY.PEEK[])"), "fetch"):
        if isinstance(part, tuple):
            uid = re.search(rb"UID (\d+)", part[0]).group(1).decode()
            print("HASH", uid, hashlib.sha256(part[1]).hexdigest())
msg = ("From: %s\r\nTo: %s\r\nSubject: filed by %s\r\n\r\nA note in the shared mailbox.\r\n" % (user, shared, user)).encode()
ok(*m.append(q(INBOX), "(\\Seen)", None, msg), "append")
m.noop()
for part in ok(*m.uid("FETCH", "1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])"), "fetch subjects"):
    if isinstance(part, tuple):
        s = part[1].decode().strip()
        if s.startswith("Subject: filed by "):
            print("SEEN", s[len("Subject: filed by "):])
print("PASS append", n)
m.logout()
print("PASS logout")
