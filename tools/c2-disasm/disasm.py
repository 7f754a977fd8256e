#!/usr/bin/env python3
"""Disassembles the C2-compiled methods of a -XX:CompileCommand=print log without hsdis.

JDK 25 prints a compiled method's machine code as hex bytes when no hsdis library is installed
(Debian's is too old for it). This feeds those bytes to objdump and, with --count, sums the vector
instructions that matter for the kernels (the question "did this loop stay vectorized?").

    java ... -XX:+UnlockDiagnosticVMOptions \\
         -XX:CompileCommand=print,dev.lockstep.kernels.Int8Kernels512::q4_0x1 ... > log.txt
    python3 tools/c2-disasm/disasm.py log.txt Int8Kernels512::q4_0x1          # the listing
    python3 tools/c2-disasm/disasm.py log.txt Int8Kernels512::q4_0x1 --count  # a histogram

Only C2 compilations (tier 4) are shown; the last one printed is the one that runs.
"""
import collections
import re
import subprocess
import sys
import tempfile

INTERESTING = ("vpmullw", "vpmaddwd", "vpdpwssd", "vpdpbusd", "vpaddw", "vpaddd", "vfmadd", "vcvtdq2ps",
               "vpbroadcast", "vpmovzx", "vpmovsx", "vpermd", "vpermi2", "vmovdqu", "vmovups")


def methods(text, want):
    for block in re.split(r'\n(?=Compiled method \(c2\))', text):
        m = re.match(r'Compiled method \(c2\).*?(\S+::\S+)', block)
        if not m or want not in m.group(1):
            continue
        parts = block.split('[MachCode]', 1)
        if len(parts) < 2:
            continue
        code, start = bytearray(), None
        for line in parts[1].split('\n'):
            if line.startswith('[/MachCode]'):
                break
            lm = re.match(r'\s*(0x[0-9a-f]+):\s*([0-9a-f]{2,4}(?:[ |]+[0-9a-f]{2,4})*)\s*$', line)
            if not lm:
                continue
            if start is None:
                start = int(lm.group(1), 16)
            for g in re.findall(r'[0-9a-f]+', lm.group(2)):
                code += bytes.fromhex(g)
        yield m.group(1), start, bytes(code)


def objdump(start, code):
    with tempfile.NamedTemporaryFile(suffix='.bin') as f:
        f.write(code)
        f.flush()
        return subprocess.run(['objdump', '-D', '-b', 'binary', '-mi386:x86-64', '--adjust-vma=%#x' % start, f.name],
                              capture_output=True, text=True, check=True).stdout


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    text = open(sys.argv[1]).read()
    found = list(methods(text, sys.argv[2]))
    if not found:
        sys.exit("no C2 compilation of a method matching '%s' in %s" % (sys.argv[2], sys.argv[1]))
    for name, start, code in found:
        listing = objdump(start, code)
        print('=====', name, len(code), 'bytes')
        if '--count' in sys.argv:
            counts = collections.Counter()
            for line in listing.split('\n'):
                parts = line.split('\t')
                if len(parts) >= 3:
                    op = parts[2].split()[0] if parts[2].split() else ''
                    if op.startswith(INTERESTING):
                        counts[op] += 1
            for op, c in sorted(counts.items()):
                print('%8d  %s' % (c, op))
        else:
            print(listing)


if __name__ == '__main__':
    main()
