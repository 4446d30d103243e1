#!/usr/bin/env python3
"""Drives tenantferry's IMAP server with Python's imaplib, a client nobody
on the project wrote. Usage: imaplib_client.py HOST PORT USER PASSWORD

Each step prints "PASS <step> ..." and any failure raises (non-zero exit).
The Go test TestPythonImaplib runs it and checks the output.
"""
import imaplib
import re
import sys
import time

host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]

# Byte-exact content: CRLF, bare LF, 8-bit header, a NUL and a CR-only tail.
MSG1 = (b"From: Alice Example <alice@example.test>\r\n"
        b"To: Bob <bob@example.test>\r\n"
        b"Subject: Quarterly report\r\n"
        b"Date: Mon, 1 Jan 2024 09:00:00 +0000\r\n"
        b"Message-ID: <q1@example.test>\r\n"
        b"\r\n"
        b"The numbers are in.\r\n")
MSG2 = (b"From: Carol <carol@example.test>\n"
        b"Subject: lunch \xe9t\xe9\n"
        b"\n"
        b"bare LF body with a NUL \x00 here\n"
        b"and a CR-only tail\r")


def ok(typ, data, what):
    if typ != "OK":
        raise SystemExit("FAIL %s: %s %r" % (what, typ, data))
    return data


def append_raw(c, mailbox, flags, msg):
    # imaplib's append() rewrites every line ending to CRLF; send the
    # literal exactly as given instead (imaplib's own command machinery).
    c.literal = msg
    return c._simple_command("APPEND", mailbox, flags, imaplib.Time2Internaldate(time.time()))


def connect():
    c = imaplib.IMAP4(host, port)
    c.sock.settimeout(30)
    ok(*c.login(user, password), "login")
    return c


c = connect()
caps = ok(*c.capability(), "capability")[0].decode().upper().split()
for cap in ("IMAP4REV1", "UIDPLUS", "MOVE", "IDLE", "SPECIAL-USE", "NAMESPACE"):
    if cap not in caps:
        raise SystemExit("FAIL capability %s missing: %r" % (cap, caps))
print("PASS login", user)

# LIST with special-use attributes; hidden folder classes stay hidden.
lines = ok(*c.list(), "list")
folders = {}
for line in lines:
    m = re.match(rb'\((.*?)\) "(.)" (.*)', line)
    name = m.group(3).decode().strip('"')
    folders[name] = m.group(1).decode().split()
if "INBOX" not in folders or "Calendar" in folders or "Contacts" in folders:
    raise SystemExit("FAIL list: %r" % folders)
special = {n: a for n, attrs in folders.items() for a in attrs if a in ("\\Sent", "\\Drafts", "\\Trash", "\\Junk", "\\Archive")}
if special.get("Sent Items") != "\\Sent" or special.get("Deleted Items") != "\\Trash":
    raise SystemExit("FAIL special-use: %r" % folders)
print("PASS list", len(folders), "folders; special-use", ",".join("%s=%s" % kv for kv in sorted(special.items())))

# APPEND with flags and internal date; APPENDUID.
uids = []
for flags, msg in (("(\\Flagged)", MSG1), ("()", MSG2)):
    typ, data = append_raw(c, "INBOX", flags, msg)
    ok(typ, data, "append")
    m = re.search(rb"APPENDUID (\d+) (\d+)", data[0])
    if not m:
        raise SystemExit("FAIL append: no APPENDUID in %r" % data)
    uids.append(m.group(2).decode())
print("PASS append uids", " ".join(uids))

# SELECT and SEARCH.
typ, data = c.select("INBOX")
ok(typ, data, "select")
if int(data[0]) != 2:
    raise SystemExit("FAIL select: %r" % data)
checks = [
    (("FROM", '"alice example"'), [uids[0]]),
    (("SUBJECT", "lunch"), [uids[1]]),
    (("BODY", '"numbers are"'), [uids[0]]),
    (("TEXT", "NUL"), [uids[1]]),
    (("FLAGGED",), [uids[0]]),
    (("UNFLAGGED", "UNSEEN"), [uids[1]]),
    (("SENTBEFORE", "2-Jan-2024"), [uids[0]]),  # MSG2 has no Date: its internal date counts
    (("LARGER", "150"), [uids[0]]),
    (("OR", "FROM", "carol", "FROM", "alice"), uids),
    (("NOT", "FROM", "carol"), [uids[0]]),
    (("UID", uids[1]), [uids[1]]),
]
for crit, want in checks:
    typ, data = c.uid("SEARCH", *crit)
    ok(typ, data, "search %r" % (crit,))
    got = data[0].decode().split()
    if got != want:
        raise SystemExit("FAIL search %r: %r, want %r" % (crit, got, want))
print("PASS search", len(checks), "queries")

# FETCH: byte-exact bodies, flags, envelope, body structure, sections.
for uid, msg in zip(uids, (MSG1, MSG2)):
    typ, data = c.uid("FETCH", uid, "(BODY.PEEK[] RFC822.SIZE FLAGS ENVELOPE BODYSTRUCTURE)")
    ok(typ, data, "fetch")
    if data[0][1] != msg:
        raise SystemExit("FAIL fetch %s: body differs: %r" % (uid, data[0][1]))
    if b"RFC822.SIZE %d" % len(msg) not in data[0][0]:
        raise SystemExit("FAIL fetch %s: size: %r" % (uid, data[0][0]))
typ, data = c.uid("FETCH", uids[0], "(BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODY.PEEK[TEXT] BODY.PEEK[]<4.10>)")
ok(typ, data, "fetch sections")
parts = [d[1] for d in data if isinstance(d, tuple)]
if parts != [b"Subject: Quarterly report\r\n\r\n", b"The numbers are in.\r\n", MSG1[4:14]]:
    raise SystemExit("FAIL fetch sections: %r" % parts)
print("PASS fetch byte-exact", len(uids), "messages and sections")

# STORE: a body fetch without PEEK sets \Seen, +FLAGS/-FLAGS.
typ, data = c.uid("FETCH", uids[1], "(BODY[TEXT])")
ok(typ, data, "fetch text")
typ, data = c.uid("STORE", uids[1], "+FLAGS", "(\\Answered $Label1)")
ok(typ, data, "store")
flags = data[0].decode()
for f in ("\\Seen", "\\Answered", "$Label1"):
    if f not in flags:
        raise SystemExit("FAIL store: %s missing in %r" % (f, data))
typ, data = c.uid("STORE", uids[1], "-FLAGS.SILENT", "(\\Answered)")
ok(typ, data, "store silent")
typ, data = c.uid("FETCH", uids[1], "(FLAGS)")
if "\\Answered" in data[0].decode():
    raise SystemExit("FAIL store -FLAGS: %r" % data)
print("PASS store flags")

# COPY with COPYUID, MOVE, EXPUNGE.
typ, data = c.uid("COPY", uids[0], "Archive")
ok(typ, data, "copy")
# imaplib files response codes of tagged replies under untagged_responses.
if "COPYUID" not in c.untagged_responses:
    raise SystemExit("FAIL copy: no COPYUID (%r)" % c.untagged_responses)
typ, data = c.uid("MOVE", uids[1], "Archive")
ok(typ, data, "move")
moved = c.untagged_responses.pop("EXPUNGE", [])
if moved != [b"2"]:
    raise SystemExit("FAIL move: EXPUNGE responses %r" % moved)
typ, data = c.uid("STORE", uids[0], "+FLAGS", "(\\Deleted)")
ok(typ, data, "store deleted")
typ, data = c.expunge()
ok(typ, data, "expunge")
if data != [b"1"]:
    raise SystemExit("FAIL expunge: %r" % data)
typ, data = c.status("Archive", "(MESSAGES UIDNEXT UNSEEN)")
ok(typ, data, "status")
if b"MESSAGES 2" not in data[0]:
    raise SystemExit("FAIL status Archive: %r" % data)
typ, data = c.status("INBOX", "(MESSAGES)")
if b"MESSAGES 0" not in data[0]:
    raise SystemExit("FAIL status INBOX: %r" % data)
print("PASS copy move expunge;", data[0].decode())

# IDLE on a second connection sees a message appended by the first.
c2 = connect()
ok(*c2.select("INBOX"), "select 2")
tag = c2._new_tag()
c2.send(tag + b" IDLE\r\n")
line = c2.readline()
if not line.startswith(b"+"):
    raise SystemExit("FAIL idle: %r" % line)
ok(*c.append("INBOX", None, None, MSG1), "append during idle")
seen = b""
while b"EXISTS" not in seen:
    seen = c2.readline()
c2.send(b"DONE\r\n")
line = c2.readline()
while not line.startswith(tag):
    line = c2.readline()
if b"OK" not in line:
    raise SystemExit("FAIL idle end: %r" % line)
print("PASS idle saw", seen.decode().strip())

c2.logout()
c.logout()
print("PASS logout")
