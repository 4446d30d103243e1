#!/usr/bin/python3
"""A delegate opens a shared mailbox's calendar with the python3-caldav
client library, signed in with its own credentials.

Usage: caldav_delegate.py BASE_URL USER PASSWORD SHARED_ADDRESS EVENT_FILE
Reads every event of /dav/calendars/SHARED/Calendar/ (raw bytes through the
client's HTTP session, since the library normalises line endings), then
saves EVENT_FILE's bytes as a new event named after USER. Prints one JSON
object: {"events": {href-name: sha256}, "saved": name, "saved_sha": sha256}.
"""
import hashlib
import json
import sys

import caldav

base, user, password, shared, event_file = sys.argv[1:6]


def sha(b):
    return hashlib.sha256(b).hexdigest()


client = caldav.DAVClient(url=base + "/dav/", username=user, password=password)
cal = client.calendar(url=base + "/dav/calendars/" + shared + "/Calendar/")
events = {}
for ev in cal.events():
    r = client.session.get(str(ev.url), auth=(user, password))
    r.raise_for_status()
    events[str(ev.url).rsplit("/", 1)[1]] = sha(r.content)
data = open(event_file, "rb").read()
name = "filed-by-" + user.split("@")[0] + ".ics"
r = client.session.put(cal.url.join(name).geturl() if hasattr(cal.url, "join") else str(cal.url) + name,
                       data=data, auth=(user, password), headers={"Content-Type": "text/calendar; charset=utf-8"})
if r.status_code not in (201, 204):
    sys.exit("PUT %s: %d %s" % (name, r.status_code, r.text))
print(json.dumps({"events": events, "saved": name, "saved_sha": sha(data)}))
