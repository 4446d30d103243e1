#!/usr/bin/python3
"""Independent verifiers for the mail authentication tests, with DNS pointed
at the test's loopback DNS server (python3-dkim, python3-spf, dnspython).

  verify.py HOST:PORT dkim   < message   one line per DKIM-Signature: "i d s pass|fail"
  verify.py HOST:PORT arc    < message   the ARC chain result: "pass", "fail" or "none"
  verify.py HOST:PORT spf < queries       per line "IP SENDER HELO": the SPF result, e.g. "pass"
"""
import sys

import dns.resolver


def resolver(server):
    host, port = server.rsplit(":", 1)
    r = dns.resolver.Resolver(configure=False)
    r.nameservers = [host]
    r.port = int(port)
    r.lifetime = 5
    return r


def main():
    server, mode = sys.argv[1], sys.argv[2]
    r = resolver(server)
    dns.resolver.default_resolver = r  # pyspf asks the default resolver

    def txt(name, timeout=5):
        if isinstance(name, bytes):
            name = name.decode()
        try:
            ans = r.resolve(name, "TXT")
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return None
        return b"".join(ans[0].strings)

    if mode == "spf":
        import spf
        for line in sys.stdin:
            ip, sender, helo = line.split()
            res, _ = spf.check2(i=ip, s=sender, h=helo, timeout=10, querytime=5)
            print(res, flush=True)
        return
    import dkim
    msg = sys.stdin.buffer.read()
    if mode == "dkim":
        try:
            dkim.DKIM(msg)
        except Exception as e:  # a message python3-dkim cannot parse at all
            print("unparseable:", e)
            return
        n = 0
        for line in msg.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
            if line[:15].lower() == b"dkim-signature:":
                n += 1
        for i in range(n):
            try:
                ok = dkim.DKIM(msg).verify(idx=i, dnsfunc=txt)
                print(i, "pass" if ok else "fail")
            except Exception as e:  # e.g. a signature whose key is in no served zone
                print(i, "error", type(e).__name__)
        return
    if mode == "arc":
        cv, _, reason = dkim.arc_verify(msg, dnsfunc=txt)
        print(cv.decode() if isinstance(cv, bytes) else cv)
        if reason:
            print(reason, file=sys.stderr)
        return
    sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()
