#!/usr/bin/env python3
"""Differential test of credential lookups against Postfix itself.

For generated maps (hash and lmdb; mixed case; built plain, with postmap -f
and with postmap -n; 10,000 entries) and generated senders and next hops,
authrelay --lookup must pick the same key and value that smtp(8)'s sequence
of lookups picks. The expected answer comes from `postmap -q -` (Postfix's
own reader, folding keys as smtp(8) does), asked key by key in smtp(8)'s
order: sender, sender without extension, @domain, host, next hop.

Usage: maps_differential.py PATH/TO/authrelay [QUERIES_PER_MAP]
"""
import hashlib, json, os, random, subprocess, sys, tempfile

BIN = sys.argv[1]
QUERIES = int(sys.argv[2]) if len(sys.argv) > 2 else 120
ENTRIES = 10000
rng = random.Random(20261128)


def mixcase(s):
    return ''.join(c.upper() if rng.random() < 0.3 else c for c in s)


def fingerprint(secret):
    d = hashlib.sha256(secret.encode()).hexdigest()[:8]
    return 'len=%d sha256:%s' % (len(secret), d)


def make_entries():
    entries = []
    for i in range(ENTRIES):
        kind = i % 5
        if kind == 0:
            key = '[smtp-%d.example.com]:587' % i
        elif kind == 1:
            key = 'smtp-%d.example.com' % i
        elif kind == 2:
            key = 'user%d@dom%d.example' % (i, i % 97)
        elif kind == 3:
            key = '@dom%d.example' % i
        else:
            key = 'smtp-%d.example.com:submission' % i
        entries.append((mixcase(key), 'user%d@x.example:pw-%d:%s' % (i, i, mixcase('ab:cd'))))
    return entries


def smtp8_keys(sender, host, nexthop):
    keys = []
    if sender:
        keys.append(sender)
        local, _, domain = sender.rpartition('@')
        if '+' in local and local.index('+') > 0:
            keys.append(local[:local.index('+')] + '@' + domain)
        keys.append('@' + domain)
    keys += [host, nexthop]
    out = []
    for k in keys:
        if k.lower() not in [o.lower() for o in out]:
            out.append(k)
    return out


def host_of(nexthop):
    if nexthop.startswith('['):
        return nexthop[1:nexthop.index(']')]
    return nexthop.split(':')[0]


def queries(entries):
    qs = []
    for _ in range(QUERIES):
        i = rng.randrange(ENTRIES * 2)  # half of them miss
        n = i % ENTRIES if i < ENTRIES else i
        nexthop = rng.choice(['[smtp-%d.example.com]:587', 'smtp-%d.example.com:submission',
                              '[smtp-%d.example.com]', 'smtp-%d.example.com:587']) % n
        nexthop = mixcase(nexthop)
        sender = rng.choice(['', 'User%d+tag@Dom%d.example' % (n, n % 97), 'user%d@dom%d.example' % (n, n % 97),
                             'x@DOM%d.example' % n])
        qs.append((sender, nexthop))
    return qs


def postmap_query(confdir, spec, keys):
    """Postfix's answer for each key: postmap -q - reads keys on stdin."""
    p = subprocess.run(['postmap', '-c', confdir, '-q', '-', spec], input='\n'.join(keys) + '\n',
                       capture_output=True, text=True)
    found = {}
    for line in p.stdout.splitlines():
        k, _, v = line.partition('\t')
        found[k] = v
    return found


def main():
    d = tempfile.mkdtemp(prefix='authrelay-diff-')
    os.chmod(d, 0o755)
    open(os.path.join(d, 'main.cf'), 'w').write('smtp_sasl_auth_enable = yes\n')
    open(os.path.join(d, 'master.cf'), 'w').write('')
    entries = make_entries()
    src = ''.join('%s %s\n' % e for e in entries)
    checked = mismatches = hits = 0
    for mtype in ('hash', 'lmdb'):
        for flags in ([], ['-f'], ['-n'], ['-f', '-n']):
            name = os.path.join(d, 'map_%s%s' % (mtype, ''.join(f[1] for f in flags)))
            open(name, 'w').write(src)
            os.chmod(name, 0o640)
            subprocess.run(['postmap', '-c', d] + flags + ['%s:%s' % (mtype, name)], check=True)
            spec = '%s:%s' % (mtype, name)
            for sender, nexthop in queries(entries):
                keys = smtp8_keys(sender, host_of(nexthop), nexthop)
                answers = postmap_query(d, spec, keys)
                want_key = next((k for k in keys if k in answers), None)
                cmd = [BIN, '-c', d, '-o', 'smtp_sasl_password_maps=' + spec,
                       '-o', 'smtp_sender_dependent_authentication=yes', '-o', 'recipient_delimiter=+',
                       '--lookup', nexthop, '--json']
                if sender:
                    cmd.append('--sender=' + sender)
                out = subprocess.run(cmd, capture_output=True, text=True)
                got = json.loads(out.stdout)['lookups'][0]
                got_key = next((t.split(': found in ')[0] for t in got['keys'] if ': found in ' in t), None)
                ok = got_key == want_key and got['found'] == (want_key is not None)
                if ok and want_key is not None:
                    hits += 1
                    user, _, pw = answers[want_key].partition(':')
                    ok = got['username'] == user and got['password'] == fingerprint(pw)
                checked += 1
                if not ok:
                    mismatches += 1
                    print('MISMATCH %s %s sender=%r nexthop=%r: postfix %r=%r, authrelay %r %s' % (
                        mtype, flags, sender, nexthop, want_key, answers.get(want_key), got_key, got))
            print('%s %s: compared' % (mtype, ' '.join(flags) or '(default)'))
    print('%d lookups compared with postmap -q (%d found), %d mismatches' % (checked, hits, mismatches))
    subprocess.run(['rm', '-rf', d])
    print('%d passed, %d failed' % (checked - mismatches, mismatches))
    sys.exit(1 if mismatches else 0)


main()
