#!/usr/bin/python3
"""sync-collection (RFC 6578) with the python3-caldav client library.

Usage: caldav_sync.py CALENDAR_URL USER PASSWORD [TOKEN]
Without TOKEN: an initial sync. With TOKEN: the changes since it. Prints
{"token": new token, "names": [resource names returned]} as JSON.
"""
import json
import sys

import caldav

url, user, password = sys.argv[1:4]
token = sys.argv[4] if len(sys.argv) > 4 else None
client = caldav.DAVClient(url=url, username=user, password=password)
cal = client.calendar(url=url)
coll = cal.objects_by_sync_token(sync_token=token, load_objects=False)
names = sorted(str(o.url).rstrip("/").rsplit("/", 1)[-1] for o in coll)
print(json.dumps({"token": coll.sync_token, "names": names}))
