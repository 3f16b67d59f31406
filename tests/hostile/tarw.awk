# tests/hostile/tarw.awk — writes raw tar bytes from a line spec, for tar streams GNU tar refuses to
# make (hostile names, lying sizes, whiteouts as hard links, …). mawk/gawk in the C locale.
# Output uses placeholders the caller maps with  tr '\001\002\003' '\000\000\n':
#   \001 padding NUL, \002 a NUL inside a name, \003 a newline inside a name.
# Spec lines, tab-separated:  TYPE  NAME  [LINK]  [DATA]  [MODE]  [SIZE]
#   TYPE: 0 file, 1 hard link, 2 symlink, 3 char dev (LINK = "maj:min"), 5 dir, 6 fifo,
#         x pax header for the next entry (NAME is "key=value"; DATA unused),
#         L GNU long name for the next entry (NAME is the long name),
#         END the two zero blocks (omit it for a truncated archive), RAW DATA as is (no padding).
#   DATA is the file content (\003 = newline); SIZE overrides the size field (data written is DATA).
#   Names are written as given; escape NUL as \002 and newline as \003 in the spec.
BEGIN {
	FS = "\t"
	for (i = 1; i < 256; i++) ORD[sprintf("%c", i)] = i
	ORD["\001"] = 0; ORD["\002"] = 0; ORD["\003"] = 10
	Z = "\001"
	Z512 = ""; for (i = 0; i < 512; i++) Z512 = Z512 Z
}
function sum(s,   i, t) { t = 0; for (i = 1; i <= length(s); i++) t += ORD[substr(s, i, 1)]; return t }
function oct(n, w,   s, d) {
	s = ""
	while (n > 0) { d = n % 8; s = d s; n = (n - d) / 8 }
	while (length(s) < w - 1) s = "0" s
	return s Z
}
function fld(s, w) { s = substr(s, 1, w); while (length(s) < w) s = s Z; return s }
function header(name, mode, size, type, link, dev,   h, ck, maj, mn) {
	maj = 0; mn = 0
	if (dev != "") { split(dev, dv, ":"); maj = dv[1] + 0; mn = dv[2] + 0 }
	h = fld(name, 100) oct(mode, 8) oct(0, 8) oct(0, 8) oct(size, 12) oct(0, 12) "        " type \
	    fld(link, 100) "ustar" Z "00" fld("root", 32) fld("root", 32) oct(maj, 8) oct(mn, 8) fld("", 155) fld("", 12)
	ck = sum(h)
	ck = oct(ck, 7) " "
	return substr(h, 1, 148) ck substr(h, 157)
}
function pad(n) { return substr(Z512, 1, (512 - n % 512) % 512) }
function data_of(s) { gsub(/\\n/, "\003", s); return s }
function emit(type, name, link, data, mode, size,   h, rec, l, n) {
	if (type == "x") {
		rec = " " name "\n"; l = length(rec); n = l + length(l "")
		if (length(n "") != length(l "")) n++
		rec = n rec
		printf "%s%s%s", header("PaxHeader", 420, length(rec), "x", "", ""), rec, pad(length(rec))
		return
	}
	if (type == "L") {
		rec = name Z
		printf "%s%s%s", header("././@LongLink", 420, length(rec), "L", "", ""), rec, pad(length(rec))
		return
	}
	if (type == "END") { printf "%s%s", Z512, Z512; return }
	if (type == "RAW") { printf "%s", data; return }
	if (mode == "") mode = (type == "5" ? 493 : 420); else mode = mode + 0
	if (size == "") size = length(data)
	printf "%s", header(name, mode, size, type, type == "3" ? "" : link, type == "3" ? link : "")
	if (length(data)) printf "%s%s", data, pad(length(data))
}
{ emit($1, $2, $3, data_of($4), $5, $6) }
