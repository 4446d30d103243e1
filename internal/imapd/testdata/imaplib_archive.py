#!/usr/bin/env python3
"""The online archive over IMAP, as Python's imaplib (a client nobody here
wrote) sees it: usage imaplib_archive.py HOST PORT USER PASSWORD.

Prints one PASS line per step, and "HASH <folder> <uid> <sha256>" for every
archived message it reads, so the Go test can compare them with the store.
Exits non-zero at the first step that fails."""
import hashlib
import imaplib
import re
import sys

host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
ROOT = "Online Archive"


def ok(typ, data, what):
    if typ != "OK":
        sys.exit("FAIL %s: %s %r" % (what, typ, data))
    return data


def q(name):
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


m = imaplib.IMAP4(host, port)
ok(*m.login(user, password), "login")
print("PASS login", user)

# LIST shows the archive root as \Noselect with children, and its folders
# below it without special-use attributes.
listing = {}
for line in ok(*m.list('""', '"*"'), "list"):
    mt = re.match(rb'\((?P<attrs>[^)]*)\) "/" (?P<name>.*)$', line)
    name = mt.group("name").decode()
    if name.startswith('"'):
        name = name[1:-1]
    listing[name] = mt.group("attrs").decode()
if "\\Noselect" not in listing.get(ROOT, "") or "\\HasChildren" not in listing.get(ROOT, ""):
    sys.exit("FAIL list: the archive root is %r" % listing.get(ROOT))
archived = sorted(n for n in listing if n.startswith(ROOT + "/"))
for n in archived:
    if re.search(r"\\(Sent|Drafts|Trash|Junk|Archive)\b", listing[n]):
        sys.exit("FAIL list: %s has a special use: %s" % (n, listing[n]))
print("PASS list root", ROOT, "with", len(archived), "folders:", ",".join(archived))

# Read every message of every archive folder.
count = 0
for name in archived:
    typ, data = m.select(q(name), readonly=True)
    if typ != "OK":
        sys.exit("FAIL select %s: %r" % (name, data))
    if int(data[0]) == 0:
        continue
    data = ok(*m.uid("FETCH", "1:*", "(UID BODY.PEEK[])"), "fetch " + name)
    for part in data:
        if not isinstance(part, tuple):
            continue
        uid = re.search(rb"UID (\d+)", part[0]).group(1).decode()
        print("HASH", name, uid, hashlib.sha256(part[1]).hexdigest())
        count += 1
print("PASS read", count, "archived messages")

# The root cannot be selected.
typ, data = m.select(q(ROOT))
if typ == "OK":
    sys.exit("FAIL select root: OK")
print("PASS select root refused")

# Write: APPEND into the archive, MOVE from INBOX into it, folder changes.
msg = b"From: a@example.com\r\nTo: " + user.encode() + b"\r\nSubject: to the archive\r\n\r\nkept\r\n"
data = ok(*m.append(q(ROOT + "/Inbox"), "(\\Seen)", None, msg), "append")
if b"APPENDUID" not in data[0]:
    sys.exit("FAIL append: no APPENDUID: %r" % data)
ok(*m.select("INBOX"), "select INBOX")
data = ok(*m.uid("MOVE", "1:*", q(ROOT + "/Inbox")), "move")
typ, data = m.status("INBOX", "(MESSAGES)")
inbox = data[0].decode()
typ, data = m.status(q(ROOT + "/Inbox"), "(MESSAGES)")
print("PASS append move;", inbox, "|", data[0].decode())
ok(*m.create(q(ROOT + "/2019")), "create")
ok(*m.rename(q(ROOT + "/2019"), q(ROOT + "/Year 2019")), "rename")
typ, data = m.rename(q(ROOT + "/Year 2019"), q("Year 2019"))
if typ == "OK":
    sys.exit("FAIL rename out of the archive: OK")
ok(*m.delete(q(ROOT + "/Year 2019")), "delete")
typ, data = m.create(q(ROOT))
if typ == "OK":
    sys.exit("FAIL create root: OK")
print("PASS folders create rename delete")
m.logout()
print("PASS logout")
