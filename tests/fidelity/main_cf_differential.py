#!/usr/bin/env python3
"""Differential test of main.cf reading against postconf.

Generated main.cf files with $name, ${name}, $(name), ${name?text},
${name:text}, ${name?{a}:{b}}, $$, continuation lines, comment lines inside
continuations, repeated assignments and references to Postfix's built-in
defaults. For every parameter, authrelay's value (authrelay --postconf)
must equal `postconf -c DIR -xh NAME`.

Usage: main_cf_differential.py PATH/TO/authrelay [FILES]
"""
import os, random, subprocess, sys, tempfile

BIN = sys.argv[1]
FILES = int(sys.argv[2]) if len(sys.argv) > 2 else 40
rng = random.Random(4242)
BUILTINS = ['myhostname', 'mydomain', 'config_directory', 'mail_name', 'command_time_limit',
            'smtp_helo_name', 'smtp_sasl_security_options', 'smtp_sasl_tls_security_options',
            'smtp_tls_key_file', 'queue_directory', 'smtp_connect_timeout']
WORDS = ['alpha', 'beta', 'hash:/etc/postfix/x', '[smtp.gmail.com]:587', 'noanonymous,', 'a=b', '-', '30s']


def value(i, names):
    parts = []
    for _ in range(rng.randint(0, 4)):
        r = rng.random()
        ref = rng.choice(names[:i] + BUILTINS) if (names[:i] or BUILTINS) else 'myhostname'
        if r < 0.25:
            parts.append(rng.choice(WORDS))
        elif r < 0.35:
            parts.append('$' + ref)
        elif r < 0.45:
            parts.append('${%s}' % ref)
        elif r < 0.5:
            parts.append('$(%s)' % ref)
        elif r < 0.6:
            parts.append('${%s?%s}' % (ref, rng.choice(WORDS)))
        elif r < 0.7:
            parts.append('${%s:%s}' % (ref, rng.choice(WORDS)))
        elif r < 0.8:
            parts.append('${%s?{%s}:{%s}}' % (ref, rng.choice(WORDS), rng.choice(WORDS)))
        elif r < 0.85:
            parts.append('$$literal')
        else:
            parts.append('${undefined_param_%d:fallback}' % rng.randint(0, 3))
    return ' '.join(parts)


def make_file():
    names = ['p%d' % i for i in range(12)]
    lines = ['# generated']
    for i, n in enumerate(names):
        v = value(i, names)
        if rng.random() < 0.3 and ' ' in v:
            a, b = v.split(' ', 1)
            lines.append('%s = %s' % (n, a))
            if rng.random() < 0.5:
                lines.append('    # a comment inside a continuation')
            lines.append('%s%s' % (rng.choice(['  ', '\t', '    ']), b))
        else:
            lines.append('%s =%s%s' % (n, rng.choice([' ', '', '   ']), v))
        if rng.random() < 0.15:
            lines.append('%s = %s' % (n, value(i, names)))  # last one wins
        if rng.random() < 0.1:
            lines.append('')
    # Make every parameter "used", so postconf knows it.
    lines.append('all_params = ' + ' '.join('$' + n for n in names))
    return '\n'.join(lines) + '\n', names + ['all_params'] + BUILTINS


def main():
    d = tempfile.mkdtemp(prefix='authrelay-cfdiff-')
    open(os.path.join(d, 'master.cf'), 'w').write('')
    compared = mismatches = 0
    for f in range(FILES):
        text, names = make_file()
        open(os.path.join(d, 'main.cf'), 'w').write(text)
        got = subprocess.run([BIN, '-c', d, '--postconf', '--'] + names, capture_output=True, text=True).stdout
        got_values = dict(line.split(' = ', 1) if ' = ' in line else (line.rstrip(' ='), '')
                          for line in got.splitlines())
        for n in names:
            if n == 'all_params':
                continue  # it exists only to make the others "used" for postconf
            want = subprocess.run(['postconf', '-c', d, '-xh', n], capture_output=True, text=True).stdout.rstrip('\n')
            compared += 1
            # postconf prints values with whitespace runs collapsed; compare alike.
            if ' '.join((got_values.get(n) or '').split()) != ' '.join(want.split()):
                mismatches += 1
                print('MISMATCH file %d %s: postconf %r, authrelay %r' % (f, n, want, got_values.get(n)))
                if mismatches < 4:
                    print(text)
    subprocess.run(['rm', '-rf', d])
    print('%d parameters in %d files compared with postconf -xh, %d mismatches' % (compared, FILES, mismatches))
    print('%d passed, %d failed' % (compared - mismatches, mismatches))
    sys.exit(1 if mismatches else 0)


main()
