# proto-messages-only.awk: copy a .proto file, leaving out every service block.
#
# protoc-c 1.4.1 generates a struct member named after each rpc, and the
# device plugin API's rpc "Register" becomes the C keyword "register". The
# C code only needs the messages (the service layer is ours), so the build
# runs protoc-c on this filtered copy. Braces are counted, so a service on
# one line or spread over many is dropped whole and whatever follows it is
# kept. Comments and strings in this API hold no braces.
#
# Usage: awk -f proto-messages-only.awk in.proto > out.proto
BEGIN { depth = 0; skipping = 0; opened = 0 }
{
	line = $0
	if (!skipping && line ~ /^[ \t]*service[ \t]/) {
		skipping = 1
		opened = 0
		depth = 0
	}
	if (skipping) {
		opens = gsub(/\{/, "{", line)
		closes = gsub(/\}/, "}", line)
		depth += opens - closes
		if (opens > 0)
			opened = 1
		if (opened && depth <= 0)
			skipping = 0
		next
	}
	print
}
