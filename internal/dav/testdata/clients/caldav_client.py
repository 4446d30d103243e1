#!/usr/bin/python3
"""Drive tenantferry's CalDAV server with the python3-caldav client library.

Usage: caldav_client.py BASE_URL USER PASSWORD FIXTURE_DIR
Prints one JSON object with what the client saw; the Go test asserts on it.
Objects are compared as the bytes the client put on the wire (python-caldav
runs objects through the icalendar library and may rewrite them before
sending) against the bytes the server returns, by SHA-256.
"""
import datetime
import hashlib
import json
import os
import sys

import caldav
from caldav.lib import vcal
from caldav.lib.python_utilities import to_wire

base, user, password, fixtures = sys.argv[1:5]
out = {}


def sha(b):
    return hashlib.sha256(b).hexdigest()


def raw_get(client, url):
    # The library's DAVResponse normalises line endings: read the body
    # through its HTTP session instead.
    r = client.session.get(str(url), auth=(user, password))
    r.raise_for_status()
    return r.content


client = caldav.DAVClient(url=base + "/dav/", username=user, password=password)

# Record the body of every PUT as it goes on the wire.
wire = {}
_request = client.session.request


def recording_request(method, url, data=None, **kw):
    if method == "PUT" and data is not None:
        wire[str(url)] = data
    return _request(method, url, data=data, **kw)


client.session.request = recording_request
principal = client.principal()
out["principal"] = str(principal.url)
cals = {c.name: c for c in principal.calendars()}
out["calendars"] = sorted(cals)
cal = cals["Calendar"]
tasks = cals["Tasks"]

# A new calendar with a non-ASCII display name.
newcal = principal.make_calendar(name="Python Ü – 日本", cal_id="py-cal", supported_calendar_component_set=["VEVENT"])
out["new_calendar"] = newcal.get_display_name()

sent = {}
objs = {}
for f, target in [("weekly-meeting.ics", cal), ("allday-rdate-cancelled.ics", cal), ("tentative.ics", newcal), ("task.ics", tasks)]:
    raw = open(os.path.join(fixtures, "calendar", f), "rb").read().decode("utf-8")
    if f == "task.ics":
        obj = target.save_todo(raw)
    else:
        obj = target.save_event(raw)
    sent[f] = sha(wire[str(obj.url)])
    objs[f] = obj
out["sent"] = sent
out["got"] = {f: sha(raw_get(client, o.url)) for f, o in objs.items()}
out["names"] = {f: str(o.url).rsplit("/", 1)[-1] for f, o in objs.items()}

# calendar-multiget through the library.
urls = [objs["weekly-meeting.ics"].url, objs["allday-rdate-cancelled.ics"].url]
mg = cal.calendar_multiget(urls)
out["multiget"] = sorted(sha(to_wire(o.data)) for o in mg)
out["multiget_sent"] = sorted(sha(to_wire(vcal.fix(wire[str(u)].decode("utf-8")))) for u in urls)

# Time-range search: the weekly meeting on 13 April 2026 (after DST).
found = cal.date_search(datetime.datetime(2026, 4, 13, 7, 30, tzinfo=datetime.timezone.utc),
                        datetime.datetime(2026, 4, 13, 8, 30, tzinfo=datetime.timezone.utc), expand=False)
out["search_dst"] = sorted(str(o.url).rsplit("/", 1)[-1] for o in found)
found = cal.date_search(datetime.datetime(2026, 4, 6, 0, 0, tzinfo=datetime.timezone.utc),
                        datetime.datetime(2026, 4, 7, 0, 0, tzinfo=datetime.timezone.utc), expand=False)
out["search_exdate"] = sorted(str(o.url).rsplit("/", 1)[-1] for o in found)
todos = tasks.todos()
out["todos"] = [t.icalendar_component.get("summary") for t in todos]

# Free-busy query on the calendar.
fb = cal.freebusy_request(datetime.datetime(2026, 3, 16, tzinfo=datetime.timezone.utc),
                          datetime.datetime(2026, 4, 8, tzinfo=datetime.timezone.utc))
out["freebusy"] = [str(p) for p in fb.icalendar_component.get("freebusy", [])] if fb.icalendar_component.get("freebusy") else []
out["freebusy_raw"] = fb.data

# sync-collection: initial, then one change and one deletion.
coll = cal.objects_by_sync_token(load_objects=True)
first = sorted(str(o.url).rsplit("/", 1)[-1] for o in coll)
token = coll.sync_token
weekly = objs["weekly-meeting.ics"]
weekly.load()
changed = weekly.data.replace("Wochenbesprechung", "Wochenbesprechung (geändert)")
weekly.data = changed
weekly.save()
out["changed_sent"] = sha(wire[str(weekly.url)])
out["changed_got"] = sha(raw_get(client, weekly.url))
objs["allday-rdate-cancelled.ics"].delete()
updated, deleted = coll.sync()
out["sync"] = {"first": first, "token_changed": coll.sync_token != token,
               "updated": sorted(str(o.url).rsplit("/", 1)[-1] for o in updated),
               "deleted": sorted(str(o.url).rsplit("/", 1)[-1] for o in deleted)}

newcal.delete()
out["after_delete"] = sorted(c.name for c in principal.calendars())
print(json.dumps(out, ensure_ascii=False))
