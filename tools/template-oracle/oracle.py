#!/usr/bin/env python3
"""
The oracle of Lockstep's Jinja2 renderer: Jinja2 3.1.6 configured as Hugging Face transformers
configures it for chat templates (ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loop
controls, its AssistantTracker for {% generation %}, its tojson, raise_exception, strftime_now at a
fixed instant). Writes the two corpora lockstep-core's TemplateOracleTest compares with:

  snippets       feature snippets of our own (filters, tests, loops, macros, whitespace control,
                 Python methods and formatting), each with Jinja2's output or error
  conversations  random conversations (Unicode, quotes, injection attempts, tool calls, content
                 parts, reasoning) rendered by every chat template of ../shared/fixtures/templates;
                 only a SHA-256 of each render is kept (the templates' text stays in the fixtures)

Needs python3 with jinja2==3.1.6. Run from the repository root:
  python3 tools/template-oracle/oracle.py snippets > lockstep-core/src/test/resources/template-oracle/snippets.json
  python3 tools/template-oracle/oracle.py conversations --seed 1 --per 40 | gzip -9 > lockstep-core/src/test/resources/template-oracle/conversations.json.gz
"""
import argparse, glob, hashlib, json, os, random, sys
from datetime import datetime
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.ext import loopcontrols, Extension
from jinja2 import nodes
from jinja2.exceptions import TemplateError

class AssistantTracker(Extension):  # transformers' {% generation %}: renders its body
    tags = {"generation"}
    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return nodes.Scope(body, lineno=lineno)

def raise_exception(msg): raise TemplateError(msg)
def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)
def strftime_now(fmt): return datetime(2026, 1, 15, 12, 0, 0).strftime(fmt)

env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[AssistantTracker, loopcontrols])
env.filters["tojson"] = tojson
env.globals["raise_exception"] = raise_exception
env.globals["strftime_now"] = strftime_now


def snippets():
    V = {"s": "Hello World  ", "u": "héllo 🙂 wörld", "n": 7, "f": 2.5, "neg": -7, "big": 10**15, "tiny": 0.0001, "l": [3, 1, 2, 3],
         "words": ["b", "A", "c"], "d": {"b": 2, "a": 1, "C": 3}, "none": None, "t": True, "e": "", "nested": [{"name": "x", "v": 1}, {"name": "y", "v": 2}, {"name": "x", "v": 3}],
         "lines": "a\n\nb\r\nc", "html": "<b>bold & 'q' \"dq\"</b>", "num_s": "42", "float_s": "3.7", "tup": [1, [2, 3]]}
    S = r"""
    {{ s }}|{{ n }}|{{ f }}|{{ none }}|{{ t }}|{{ l }}|{{ d }}|{{ tiny }}|{{ big * 100 }}|{{ 1e20 }}|{{ 1/3 }}|{{ 10/2 }}
    {{ (1,) }}|{{ (1, 'a') }}|{{ [none, true, 'it''s'] }}|{{ {'a': [1, 2.0]} }}|{{ 'é' }}|{{ "q'uote" }}|{{ 'd"q' }}
    {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7.5 % 2 }} {{ 2 ** 10 }} {{ 2 ** -1 }} {{ -2 ** 2 }} {{ 2 ** 3 ** 2 }} {{ 1 + 2 * 3 - 4 }}
    {{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 1 == 1.0 }} {{ true == 1 }} {{ 'a' < 'b' }} {{ [1, 2] < [1, 3] }} {{ not 1 in l }} {{ 4 not in l }}
    {{ 'a' ~ 1 ~ none ~ t }} {{ 'ab' * 3 }} {{ [1] * 3 }} {{ l + [9] }} {{ s ~ n + 1 }}
    {{ s|trim }}|{{ s|upper }}|{{ s|lower }}|{{ s|title }}|{{ 'hello wORLD'|capitalize }}|{{ s|length }}|{{ u|length }}|{{ u|upper }}
    {{ l|join(',') }}|{{ words|join }}|{{ nested|join(', ', attribute='name') }}|{{ l|sum }}|{{ l|min }}|{{ l|max }}|{{ words|min }}|{{ words|max(case_sensitive=true) }}
    {{ l|unique|list }}|{{ l|sort|list }}|{{ l|sort(reverse=true)|list }}|{{ words|sort|list }}|{{ words|sort(case_sensitive=true)|list }}|{{ nested|sort(attribute='v', reverse=true)|map(attribute='v')|list }}
    {{ l|reverse|list }}|{{ s|reverse }}|{{ l|batch(3)|list }}|{{ l|batch(3, 0)|list }}|{{ l|map('string')|join('-') }}|{{ l|select('odd')|list }}|{{ l|reject('odd')|list }}
    {{ nested|selectattr('name', 'equalto', 'x')|list }}|{{ nested|rejectattr('v', 'gt', 1)|map(attribute='name')|list }}|{{ nested|map(attribute='missing', default='z')|list }}
    {{ d|dictsort }}|{{ d|dictsort(true) }}|{{ d|dictsort(by='value', reverse=true) }}|{{ d|items|list }}|{{ d.items()|list }}|{{ d.keys()|list }}|{{ d|list }}
    {{ l|first }}|{{ l|last }}|{{ []|first }}|{{ s|first }}|{{ l|length }}|{{ d|length }}|{{ l|count }}
    {{ f|round }}|{{ 2.567|round(2) }}|{{ 2.5|round }}|{{ 3.5|round }}|{{ 2.567|round(1, 'floor') }}|{{ 2.1|round(0, 'ceil') }}|{{ neg|abs }}|{{ num_s|int + 1 }}|{{ float_s|int }}|{{ float_s|float }}|{{ 'x'|int(5) }}|{{ 3.9|int }}
    {{ html|e }}|{{ html|escape }}|{{ html|striptags }}|{{ html|safe }}|{{ '%s and %d'|format('a', 3) }}|{{ '%5.1f|%-4d|%03d'|format(3.14159, 7, 5) }}
    {{ s|replace('l', 'L') }}|{{ s|replace('l', 'L', 1) }}|{{ 'abc'|replace('', '-') }}|{{ s|center(20) }}|{{ s|truncate(9) }}|{{ 'a b c d e f g h'|truncate(9, true) }}|{{ s|wordcount }}
    {{ lines|indent }}|{{ lines|indent(2, true) }}|{{ lines|indent(2, blank=true) }}|{{ lines|indent('> ', true) }}
    {{ s.strip() }}|{{ s.lstrip('H') }}|{{ s.rstrip() }}|{{ s.split() }}|{{ s.split(' ') }}|{{ s.split('o', 1) }}|{{ s.rsplit(' ', 1) }}|{{ 'a  b c '.rsplit(None, 1) }}|{{ lines.splitlines() }}
    {{ s.startswith('He') }}|{{ s.startswith(('x', 'H')) }}|{{ s.endswith('  ') }}|{{ s.find('o') }}|{{ s.rfind('o') }}|{{ s.count('l') }}|{{ u.find('w') }}|{{ '-'.join(words) }}
    {{ '{}-{}'.format(1, 'a') }}|{{ '{1}{0}'.format('a', 'b') }}|{{ '{x}!'.format(x=5) }}|{{ '{:>5}|{:<5}|{:^5}|'.format('a', 'b', 'c') }}|{{ '{:.2f}'.format(3.14159) }}|{{ '{:05d}'.format(42) }}|{{ '{!r}'.format('q') }}|{{ '{{}}'.format() }}
    {{ s[0] }}|{{ s[-1] }}|{{ s[1:4] }}|{{ s[::-1] }}|{{ s[::2] }}|{{ u[1:3] }}|{{ l[1:] }}|{{ l[:-1] }}|{{ l[::-1] }}|{{ l[10] }}|{{ d['a'] }}|{{ d.a }}|{{ d.zz }}|{{ nested[0].name }}|{{ tup[1][0] }}
    {{ s.upper().lower() }}|{{ s.title() }}|{{ 'ab'.zfill(5) }}|{{ 'x'.ljust(3, '.') }}|{{ s.partition(' ') }}|{{ 'TeSt'.swapcase() }}|{{ s.isupper() }}|{{ '12'.isdigit() }}
    {{ n is odd }}|{{ n is even }}|{{ n is divisibleby 7 }}|{{ n is number }}|{{ f is float }}|{{ t is boolean }}|{{ t is number }}|{{ n is integer }}|{{ s is string }}|{{ d is mapping }}|{{ l is sequence }}|{{ l is iterable }}|{{ none is none }}|{{ zz is defined }}|{{ zz is undefined }}|{{ n is eq 7 }}|{{ n is gt 3 }}|{{ n is in l }}|{{ 'x' is lower }}|{{ l is sameas l }}|{{ 'upper' is filter }}|{{ 'odd' is test }}
    {{ n if t else 0 }}|{{ n if none }}|{{ (n if none) is defined }}|{{ 0 or 'x' }}|{{ 1 and 'y' }}|{{ none or none }}|{{ zz|default('dflt') }}|{{ e|default('e', true) }}|{{ none|default('n') }}
    {% for x in l %}{{ loop.index }}/{{ loop.length }}{% if loop.first %}F{% endif %}{% if loop.last %}L{% endif %}{{ loop.previtem }}{{ loop.nextitem }}{{ loop.revindex }}{{ loop.cycle('a', 'b') }} {% endfor %}
    {% for x in l if x > 1 %}{{ loop.index }}:{{ x }} {% else %}none{% endfor %}|{% for x in [] %}x{% else %}empty{% endfor %}|{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}
    {% for x in l %}{% if x == 1 %}{% continue %}{% endif %}{% if x == 2 %}{% break %}{% endif %}{{ x }}{% endfor %}|{% for x in l %}{{ loop.changed(x) }}{% endfor %}
    {% set a = 1 %}{% for x in l %}{% set a = x %}{% endfor %}{{ a }}|{% set ns = namespace(a=1, b=[]) %}{% for x in l %}{% set ns.a = ns.a + x %}{% endfor %}{{ ns.a }}|{{ ns }}
    {% set x, y = 1, 2 %}{{ x }}{{ y }}|{% set p %}captured {{ n }}{% endset %}{{ p }}|{% set q | upper %}up {{ s }}{% endset %}{{ q }}
    {% macro m(a, b=2, c='c') %}[{{ a }}{{ b }}{{ c }}{{ varargs }}{{ kwargs }}]{% endmacro %}{{ m(1) }}{{ m(1, 3) }}{{ m(1, c=5) }}{{ m(1, 2, 3, 4) }}{{ m(1, z=9) }}{{ m() }}
    {% macro wrap() %}<{{ caller() }}>{% endmacro %}{% call wrap() %}inside {{ n }}{% endcall %}|{% macro rec(k) %}{{ k }}{% if k > 0 %}{{ rec(k - 1) }}{% endif %}{% endmacro %}{{ rec(3) }}
    {% filter upper %}filtered {{ s }}{% endfilter %}|{% for item in [[1, [2]], [3]] recursive %}{{ item[0] }}{% if item[1] is defined %}({{ loop(item[1:]) }}){% endif %}{% endfor %}
    a  {%- if t %}  b  {% endif -%}  c@@  {% if t %}@@    indented@@  {% endif %}@@x {# comment #} y@@  {#- trimmed comment -#}  z@@{% raw %}{{ not rendered }}{% endraw %}@@{{- ' lead' }} {{ 'trail ' -}}  end@@{%+ if t %}keep{% endif +%}@@after@@  {% for x in l %}@@  {{ x }}@@  {% endfor %}@@end{% if t %}@@{% endif %}
    {{ range(5)|list }}|{{ range(2, 10, 3)|list }}|{{ range(5, 0, -2)|list }}|{{ dict(a=1, b=2) }}|{{ d|tojson }}|{{ d|tojson(indent=2) }}|{{ nested|tojson(sort_keys=true) }}|{{ u|tojson }}|{{ u|tojson(ensure_ascii=true) }}
    {{ [1, 2.5, none, true, 'x\n"y"']|tojson }}|{{ {'k': {'z': [], 'a': {}}}|tojson(indent=4) }}|{{ 1e100|tojson }}|{{ (1, 2)|tojson }}
    {{ "a"|safe + '"b"' }}|{{ '<'|safe ~ '<' }}|{{ ('<'|e) + '>' }}|{{ '%s'|safe % '<x>' }}|{{ 'x' + '<'|safe }}
    {% set a = 'outer' %}{% for x in [1, 2] %}{{ a }}{% set a = x %}{{ a }}{% endfor %}{{ a }}|{% if true %}{% set b = 'if-set' %}{% endif %}{{ b }}
    {% macro outer() %}{% macro inner() %}in{% endmacro %}[{{ inner() }}]{% endmacro %}{{ outer() }}|{% set g = 'global' %}{% macro sees() %}{{ g }}{% endmacro %}{{ sees() }}
    {{ zz }}|{{ zz.attr is defined }}
    {{ none.x }}|{{ none['x'] }}
    {{ zz() }}
    {{ 1 + 'a' }}
    {{ [1,2][5] }}|{{ {'a':1}['b'] }}|{{ 'ab'[9] }}|{{ d.get('zz') }}|{{ d.get('zz', 0) }}
    {{ 'a\tb\\c\'d' }}|{{ "\u00e9\x41" }}|{{ 'multi' 'part' }}
    {% for x in l %}{{ x }}{% if not loop.last %}, {% endif %}{% endfor %}
    {% for i in range(3) %}{% for j in range(2) %}{{ loop.index }}{{ i }}{% endfor %};{% endfor %}
    {{ l|map('abs')|list }}|{{ words|map('upper')|join }}|{{ nested|map(attribute='name')|unique|list }}|{{ nested|groupby is defined }}
    {{ x | default }}|{{ (l | select) | list }}|{{ l|select('equalto', 3)|list }}|{{ l|reject('lessthan', 3)|list }}
    {{ d|items|first }}|{{ d.items()|length }}|{{ d.values()|list }}|{{ 'b' in d }}|{{ 'zz' in d.keys() }}
    {{ '%(a)s-%(b)d'|format(a='x', b=2) if false else '%s/%s' % ('a', 'b') }}|{{ '%r' % 'q' }}|{{ '%5s|%-5s|' % ('r', 'l') }}
    {{ 3 is divisibleby(3) }}|{{ none is not none }}|{{ 'x' is not defined }}|{{ l is not mapping }}
    {%- for x in l -%}
      [{{ x }}]
    {%- endfor %}
       {%- if t -%}   T   {%- endif -%}   |
    {{ "a" }}   {# c #}   {{ "b" }}
    {% set lst = [3, 1] %}{{ lst|sort }}{{ lst }}
    {{ (1, 2) + (3,) }}|{{ [1] + [2] }}|{{ 5 - 7.5 }}|{{ 2 * 3.0 }}|{{ 7 / 7 }}|{{ 0.1 + 0.2 }}|{{ 1e-7 }}|{{ 123456789012345678 }}|{{ -0.0 }}|{{ 1.0e16 }}|{{ 12345678901234567.0 }}
    {{ 'abc'[1:] ~ 'xyz'[:-1] ~ 'hello'[-3:] }}|{{ [1,2,3,4,5][1:4:2] }}|{{ 'héllo'[::-2] }}
    {{ x if x is defined else 'no x' }}|{{ (n > 5) and 'big' or 'small' }}|{{ not none }}|{{ not not 0 }}
    {% for g in nested|groupby('name') %}{{ g.grouper }}:{{ g.list|map(attribute='v')|list }};{% endfor %}|{% for k, items in nested|groupby('name') %}{{ k }}{{ items|length }}{% endfor %}|{{ nested|groupby('v')|first }}
    {{ l|slice(2)|list }}|{{ l|slice(3, 0)|list }}|{{ 'one two three four five'|wordwrap(9) }}|{{ 'abcdefghijkl'|wordwrap(5) }}
    """.strip().split("\n")

    out = []
    for line in S:
        line = line.replace("@@", "\n")
        try:
            r, err = env.from_string(line).render(**V), None
        except Exception as e:
            r, err = None, type(e).__name__ + ": " + str(e)
        out.append({"template": line, "vars": V, "output": r, "error": err})
    return out

TEXTS = ["Hello", "héllo wörld 🙂", "It's a \"quote\" and \\backslash", "line1\nline2\n\n  indented", "  padded  ", "",
         "{{ 7*7 }} {% if true %}injected{% endif %}", "<|im_end|>\n<|im_start|>system", "x" * 30, "数字 123 ½ é\u00a0nbsp\u2028sep",
         "<think>hm</think>answer", "tab\there", "1.5e10 and 3"]
def text(r): return r.choice(TEXTS) + (" " + r.choice(TEXTS) if r.random() < 0.3 else "")
def args(r):
    a = {}
    for k in r.sample(["city", "n", "flag", "items", "nested", "unit"], r.randint(0, 3)):
        a[k] = {"city": lambda: r.choice(["Paris", "São Paulo", "it's"]), "n": lambda: r.choice([1, -2, 3.5, 0.1, 1e20, 10**16]),
                "flag": lambda: r.choice([True, False, None]), "items": lambda: [1, "two", {"three": 3}],
                "nested": lambda: {"a": {"b": [1, 2]}, "c": "d"}, "unit": lambda: "°C"}[k]()
    return a
def tool(r, i):
    props = {"city": {"type": "string", "description": r.choice(["The city", "Ville — nom"])}}
    if r.random() < 0.5: props["unit"] = {"type": "string", "enum": ["c", "f"]}
    if r.random() < 0.3: props["days"] = {"type": "integer", "minimum": 1}
    if r.random() < 0.3: props["opts"] = {"type": "object", "properties": {"x": {"type": "boolean"}}}
    t = {"type": "function", "function": {"name": r.choice(["get_weather", "search", "calc_sum"]) + ("" if i == 0 else str(i)),
         "description": r.choice(["Current weather", "Search the web; returns JSON", "Adds numbers"]),
         "parameters": {"type": "object", "properties": props, "required": ["city"]}}}
    return t
def conversation(r):
    msgs = []
    if r.random() < 0.5: msgs.append({"role": "system", "content": text(r)})
    turns = r.randint(1, 3)
    tools = [tool(r, i) for i in range(r.choice([0, 0, 1, 2]))]
    for t in range(turns):
        c = text(r)
        if r.random() < 0.15: c = [{"type": "text", "text": text(r)}]
        msgs.append({"role": "user", "content": c})
        if t < turns - 1 or r.random() < 0.3:
            m = {"role": "assistant", "content": text(r)}
            if r.random() < 0.2: m["reasoning_content"] = text(r)
            if tools and r.random() < 0.5:
                a = args(r)
                m["content"] = r.choice([None, "", text(r)])
                m["tool_calls"] = [{"id": "call_%d" % t, "type": "function", "function": {"name": tools[0]["function"]["name"],
                                    "arguments": a if r.random() < 0.6 else json.dumps(a)}}]
                msgs.append(m)
                msgs.append({"role": "tool", "tool_call_id": "call_%d" % t, "name": tools[0]["function"]["name"], "content": text(r)})
                msgs.append({"role": "assistant", "content": text(r)})
            else:
                msgs.append(m)
    v = {"messages": msgs, "add_generation_prompt": r.random() < 0.8, "bos_token": "<s>", "eos_token": "</s>"}
    if tools: v["tools"] = tools
    if r.random() < 0.3: v["enable_thinking"] = r.random() < 0.5
    return v


def conversations(seed, per, templates_dir):
    r = random.Random(seed)
    cases = []
    for path in sorted(glob.glob(os.path.join(templates_dir, "*.jinja"))):
        name = os.path.basename(path)[:-6]
        t = env.from_string(open(path).read())
        for i in range(per):
            v = conversation(r)
            try:
                out = t.render(**v)
                cases.append({"template": name, "vars": v, "sha256": hashlib.sha256(out.encode("utf-8")).hexdigest()})
            except Exception as e:
                cases.append({"template": name, "vars": v, "error": type(e).__name__ + ": " + str(e)})
    return cases

if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("corpus", choices=["snippets", "conversations"])
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--per", type=int, default=40)
    p.add_argument("--templates", default="../shared/fixtures/templates")
    a = p.parse_args()
    data = snippets() if a.corpus == "snippets" else conversations(a.seed, a.per, a.templates)
    json.dump(data, sys.stdout, ensure_ascii=False, indent=1)
    print()
