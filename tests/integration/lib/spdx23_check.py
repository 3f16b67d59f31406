#!/usr/bin/env python3
"""tests/integration/lib/spdx23_check.py DOC.json SPDX_IDS.json [DEPRECATED_IDS.json] [exceptions=EXC.json]
— checks an SPDX 2.3
JSON document against the constraints of the SPDX 2.3 specification (clauses 6 to 11, and annex D
for license expressions) that its JSON schema encodes and the ones it cannot: required fields and
their forms, unique SPDXIDs, relationships naming existing elements, filesAnalyzed false without a
verification code, license expressions made of listed identifiers or declared LicenseRefs, purl
external references; with exceptions=EXC.json (node-spdx-exceptions' index.json) every id after
WITH must be on the SPDX exceptions list. Used where the official schema is not available offline.
Prints one line per problem; exit 1 when there is any."""
import json, re, sys

doc = json.load(open(sys.argv[1]))
ids = set(json.load(open(sys.argv[2])))
# Deprecated identifiers stay on the SPDX license list (marked deprecated): still valid.
exceptions = None
for extra in sys.argv[3:]:
    if extra.startswith("exceptions="):
        exceptions = set(json.load(open(extra[len("exceptions="):])))
    else:
        ids |= set(json.load(open(extra)))
problems = []
def bad(msg): problems.append(msg)

REF = re.compile(r'^SPDXRef-[A-Za-z0-9.\-]+$')
DATE = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$')
for k, v in (("spdxVersion", "SPDX-2.3"), ("dataLicense", "CC0-1.0"), ("SPDXID", "SPDXRef-DOCUMENT")):
    if doc.get(k) != v: bad(f"document {k} is {doc.get(k)!r}, must be {v!r}")
if not isinstance(doc.get("name"), str) or not doc["name"]: bad("document name missing")
ns = doc.get("documentNamespace", "")
if not re.match(r'^[a-z][a-z0-9+.\-]*://[^\s#]+$', ns): bad(f"documentNamespace {ns!r} is not a URI without '#'")
ci = doc.get("creationInfo") or {}
if not DATE.match(ci.get("created", "")): bad(f"creationInfo.created {ci.get('created')!r} is not YYYY-MM-DDThh:mm:ssZ")
cr = ci.get("creators") or []
if not cr or any(not re.match(r'^(Tool|Organization|Person): \S', c) for c in cr): bad(f"creators {cr!r} malformed")
known = {"SPDXRef-DOCUMENT"}
refs = {e.get("licenseId") for e in doc.get("hasExtractedLicensingInfos", [])}
for e in doc.get("hasExtractedLicensingInfos", []):
    if not re.match(r'^LicenseRef-[A-Za-z0-9.\-]+$', e.get("licenseId", "")): bad(f"extracted licenseId {e.get('licenseId')!r}")
    if not e.get("extractedText"): bad(f"{e.get('licenseId')}: extractedText missing")

def check_expr(where, s):
    if s in ("NOASSERTION", "NONE"): return
    toks = re.findall(r'\(|\)|[^\s()]+', s)
    expect_term, depth, after_with = True, 0, False
    for t in toks:
        if t == "(":
            if not expect_term: return bad(f"{where}: '(' after a term in {s!r}")
            depth += 1
        elif t == ")":
            depth -= 1
            if depth < 0 or expect_term: return bad(f"{where}: unbalanced ')' in {s!r}")
        elif t in ("AND", "OR", "WITH"):
            if expect_term: return bad(f"{where}: operator {t} without a left term in {s!r}")
            expect_term, after_with = True, t == "WITH"
        else:
            if not expect_term: return bad(f"{where}: two terms in a row in {s!r}")
            if after_with:
                if exceptions is not None and t not in exceptions:
                    return bad(f"{where}: {t} is not an SPDX license exception identifier")
            else:
                base = t[:-1] if t.endswith("+") else t
                if base.startswith("LicenseRef-"):
                    if base not in refs: return bad(f"{where}: {base} not declared in hasExtractedLicensingInfos")
                elif base not in ids:
                    return bad(f"{where}: {base} is not an SPDX license identifier")
            expect_term, after_with = False, False
    if expect_term or depth: bad(f"{where}: incomplete expression {s!r}")

for p in doc.get("packages", []):
    sid = p.get("SPDXID", "")
    if not REF.match(sid): bad(f"package SPDXID {sid!r}")
    if sid in known: bad(f"duplicate SPDXID {sid}")
    known.add(sid)
    if not p.get("name"): bad(f"{sid}: name missing")
    if "downloadLocation" not in p: bad(f"{sid}: downloadLocation missing")
    if p.get("filesAnalyzed", True) and "packageVerificationCode" not in p:
        bad(f"{sid}: filesAnalyzed true (the default) without packageVerificationCode")
    for k in ("licenseConcluded", "licenseDeclared"):
        if k in p: check_expr(f"{sid} {k}", p[k])
    for r in p.get("externalRefs", []):
        if r.get("referenceCategory") not in ("SECURITY", "PACKAGE-MANAGER", "PERSISTENT-ID", "OTHER"):
            bad(f"{sid}: referenceCategory {r.get('referenceCategory')!r}")
        if r.get("referenceType") == "purl" and not re.match(r'^pkg:[a-z][a-z0-9.+\-]*/\S+$', r.get("referenceLocator", "")):
            bad(f"{sid}: purl {r.get('referenceLocator')!r}")
for f in doc.get("files", []):
    known.add(f.get("SPDXID"))
rels = doc.get("relationships", [])
if not any(r.get("relationshipType") == "DESCRIBES" and r.get("spdxElementId") == "SPDXRef-DOCUMENT" for r in rels) \
        and not doc.get("documentDescribes"):
    bad("nothing is DESCRIBED by the document")
for r in rels:
    for k in ("spdxElementId", "relatedSpdxElement"):
        v = r.get(k)
        if v not in known and v not in ("NOASSERTION", "NONE") and not str(v).startswith("DocumentRef-"):
            bad(f"relationship {k} {v!r} names no element")
for m in problems: print(m)
sys.exit(1 if problems else 0)
