-- SPDX-License-Identifier: MIT
-- Wireshark/tshark dissectors for natlab:
--   natlab_relay  the relay protocol over TCP (docs/relay.md): 1-byte type, 4-byte
--                 big-endian length, payload; every frame type with its fields, the
--                 access token inside AUTH decoded, SEND/RECV data handed to natlab_peer
--   natlab_peer   natlab-peer's sealed packets (proto/include/natlab/seal.h), over UDP
--                 directly or inside relay frames: magic, sessions, counter; the
--                 ciphertext and tag shown as such (the message inside is end to end)
--   natlab_event  natlab's own event packets in a lab's pcapng (interface natlab/events)
-- Use: tshark -X lua_script:natlab.lua -o udp.try_heuristic_first:TRUE -r lab.pcapng, or
-- copy it into Wireshark's personal plugins directory (Help > About > Folders) and tick
-- UDP's "Try heuristic sub-dissectors first": natlab-peer's packets go between random
-- ports, which other dissectors may be registered to (Elasticsearch's 54328). The relay port is a preference
-- (natlab_relay.port, default 443, as scenarios/lib/p2p.lua starts it); elsewhere a
-- TCP stream is recognised by its first frame (a CHALLENGE).

local relay = Proto("natlab_relay", "natlab relay protocol")
local peer = Proto("natlab_peer", "natlab-peer sealed packet")
local event = Proto("natlab_event", "natlab event")

local FRAME_HDR = 5
local FRAME_MAX_PAYLOAD = 65536
local KEY_LEN = 32
local SEAL_MAGIC = 0xA1
local SEAL_HEADER_LEN = 25
local SEAL_TAG_LEN = 16

local frame_types = {
	[1] = "CHALLENGE", [2] = "AUTH", [3] = "SERVER_INFO", [4] = "SEND", [5] = "RECV",
	[6] = "PEER_GONE", [7] = "PING", [8] = "PONG", [9] = "STATUS", [10] = "RESTARTING",
	[11] = "CLOSE", [12] = "PUBLISH", [13] = "LOOKUP", [14] = "RECORD",
}
local gone_reasons = { [1] = "not_here", [2] = "disconnected" }
local states = { [0] = "healthy", [1] = "rate-limited" }
local close_reasons = {
	[1] = "malformed", [2] = "oversized", [3] = "unexpected_frame", [4] = "handshake_timeout",
	[5] = "bad_signature", [6] = "no_token", [7] = "token_malformed", [8] = "token_foreign",
	[9] = "token_bad_signature", [10] = "token_expired", [11] = "token_revoked",
	[12] = "token_wrong_peer", [13] = "server_full", [14] = "replaced", [15] = "shutdown",
	[16] = "idle", [17] = "byte_cap",
}

local f = relay.fields
f.type = ProtoField.uint8("natlab_relay.type", "Type", base.DEC, frame_types)
f.length = ProtoField.uint32("natlab_relay.length", "Length", base.DEC)
f.version = ProtoField.uint8("natlab_relay.version", "Version", base.DEC)
f.flags = ProtoField.uint8("natlab_relay.flags", "Flags", base.HEX)
f.token_required = ProtoField.bool("natlab_relay.flags.token_required", "Token required", 8, nil, 0x01)
f.records = ProtoField.bool("natlab_relay.flags.records", "Address records kept", 8, nil, 0x02)
f.nonce = ProtoField.bytes("natlab_relay.nonce", "Nonce")
f.key = ProtoField.bytes("natlab_relay.key", "Key")
f.sig = ProtoField.bytes("natlab_relay.signature", "Signature")
f.token_len = ProtoField.uint16("natlab_relay.token_len", "Token length", base.DEC)
f.token = ProtoField.bytes("natlab_relay.token", "Token")
f.token_version = ProtoField.uint8("natlab_relay.token.version", "Version", base.DEC)
f.token_issuer = ProtoField.bytes("natlab_relay.token.issuer", "Issuer key")
f.token_peer = ProtoField.bytes("natlab_relay.token.peer", "Peer key")
f.token_expiry = ProtoField.absolute_time("natlab_relay.token.expiry", "Expiry", base.UTC)
f.token_id = ProtoField.string("natlab_relay.token.id", "Id")
f.token_sig = ProtoField.bytes("natlab_relay.token.signature", "Issuer signature")
f.max_packet = ProtoField.uint32("natlab_relay.max_packet", "Max packet", base.DEC)
f.queue_frames = ProtoField.uint32("natlab_relay.queue_frames", "Queue frames", base.DEC)
f.rate = ProtoField.uint32("natlab_relay.rate", "Rate (bytes/s)", base.DEC)
f.burst = ProtoField.uint32("natlab_relay.burst", "Burst (bytes)", base.DEC)
f.keepalive = ProtoField.uint32("natlab_relay.keepalive_ms", "Keepalive (ms)", base.DEC)
f.token_expiry_s = ProtoField.uint64("natlab_relay.token_expiry", "Token expiry (unix s)", base.DEC)
f.queue_bytes = ProtoField.uint32("natlab_relay.queue_bytes", "Queue bytes", base.DEC)
f.dst = ProtoField.bytes("natlab_relay.dst", "Destination key")
f.src = ProtoField.bytes("natlab_relay.src", "Source key")
f.data = ProtoField.bytes("natlab_relay.data", "Data")
f.data_len = ProtoField.uint32("natlab_relay.data_len", "Data length", base.DEC)
f.gone_reason = ProtoField.uint8("natlab_relay.gone_reason", "Reason", base.DEC, gone_reasons)
f.ping = ProtoField.bytes("natlab_relay.ping", "Ping data")
f.state = ProtoField.uint8("natlab_relay.state", "State", base.DEC, states)
f.reconnect_in = ProtoField.uint32("natlab_relay.reconnect_in_ms", "Reconnect in (ms)", base.DEC)
f.try_for = ProtoField.uint32("natlab_relay.try_for_ms", "Try for (ms)", base.DEC)
f.close_reason = ProtoField.uint8("natlab_relay.close_reason", "Reason", base.DEC, close_reasons)
f.close_text = ProtoField.string("natlab_relay.close_text", "Text")
f.more = ProtoField.bytes("natlab_relay.more", "Later fields")
f.rec = ProtoField.bytes("natlab_relay.record", "Address record")
f.rec_version = ProtoField.uint8("natlab_relay.record.version", "Version", base.DEC)
f.rec_key = ProtoField.bytes("natlab_relay.record.key", "Key")
f.rec_seq = ProtoField.uint64("natlab_relay.record.seq", "Sequence", base.DEC)
f.rec_expiry = ProtoField.absolute_time("natlab_relay.record.expiry", "Expiry", base.UTC)
f.rec_session = ProtoField.bytes("natlab_relay.record.session", "Seal session")
f.rec_n = ProtoField.uint8("natlab_relay.record.candidates", "Candidates", base.DEC)
f.rec_cand = ProtoField.string("natlab_relay.record.candidate", "Candidate")
f.rec_sig = ProtoField.bytes("natlab_relay.record.signature", "Signature")

local ef_bad = ProtoExpert.new("natlab_relay.bad", "Frame does not parse as docs/relay.md says",
	expert.group.MALFORMED, expert.severity.ERROR)
relay.experts = { ef_bad }

local pf = peer.fields
pf.magic = ProtoField.uint8("natlab_peer.magic", "Magic", base.HEX)
pf.src_session = ProtoField.bytes("natlab_peer.src_session", "Sender session")
pf.dst_session = ProtoField.bytes("natlab_peer.dst_session", "Receiver session")
pf.bound = ProtoField.bool("natlab_peer.bound", "Bound to the receiver's session")
pf.counter = ProtoField.uint64("natlab_peer.counter", "Counter", base.DEC)
pf.ciphertext = ProtoField.bytes("natlab_peer.ciphertext", "Sealed message (ChaCha20-Poly1305)")
pf.msg_len = ProtoField.uint32("natlab_peer.message_len", "Message length", base.DEC)
pf.tag = ProtoField.bytes("natlab_peer.tag", "Tag")

local evf = event.fields
evf.text = ProtoField.string("natlab_event.text", "Event")

relay.prefs.port = Pref.uint("Relay TCP port", 443, "Where natlab-relay listens (p2p.lua: 443)")

local data_dissector = Dissector.get("data")
local tls = Dissector.get("tls")

-- A sealed packet: at least header and tag, starting with the magic.
local function is_sealed(tvb)
	return tvb:len() >= SEAL_HEADER_LEN + SEAL_TAG_LEN and tvb(0, 1):uint() == SEAL_MAGIC
end

local function dissect_sealed(tvb, pinfo, tree)
	local len = tvb:len()
	local t = tree:add(peer, tvb(), "natlab-peer sealed packet")
	t:add(pf.magic, tvb(0, 1))
	t:add(pf.src_session, tvb(1, 8))
	t:add(pf.dst_session, tvb(9, 8))
	local zero = true
	for i = 9, 16 do
		if tvb(i, 1):uint() ~= 0 then zero = false end
	end
	t:add(pf.bound, tvb(9, 8), not zero)
	t:add(pf.counter, tvb(17, 8))
	local clen = len - SEAL_HEADER_LEN - SEAL_TAG_LEN
	if clen > 0 then t:add(pf.ciphertext, tvb(SEAL_HEADER_LEN, clen)) end
	t:add(pf.msg_len, clen)
	t:add(pf.tag, tvb(len - SEAL_TAG_LEN, SEAL_TAG_LEN))
	t:append_text(string.format(", counter %s, %d bytes sealed%s", tvb(17, 8):uint64(), clen,
		zero and ", unbound (hello)" or ""))
	return len
end

function peer.dissector(tvb, pinfo, tree)
	if not is_sealed(tvb) then return 0 end
	pinfo.cols.protocol = "natlab-peer"
	pinfo.cols.info = string.format("sealed, counter %s, %d bytes", tvb(17, 8):uint64(),
		tvb:len() - SEAL_HEADER_LEN - SEAL_TAG_LEN)
	return dissect_sealed(tvb, pinfo, tree)
end

local function heur_peer(tvb, pinfo, tree)
	if not is_sealed(tvb) then return false end
	peer.dissector(tvb, pinfo, tree)
	return true
end

local function dissect_token(tvb, tree)
	local t = tree:add(f.token, tvb())
	-- version, issuer, peer, expiry, id length, id, signature (docs/relay.md).
	if tvb:len() < 1 + 32 + 32 + 8 + 1 + 64 then return end
	local idlen = tvb(73, 1):uint()
	if tvb:len() ~= 74 + idlen + 64 then return end
	t:add(f.token_version, tvb(0, 1))
	t:add(f.token_issuer, tvb(1, 32))
	t:add(f.token_peer, tvb(33, 32))
	t:add(f.token_expiry, tvb(65, 8), NSTime.new(tvb(65, 8):uint64():tonumber(), 0))
	if idlen > 0 then t:add(f.token_id, tvb(74, idlen)) end
	t:add(f.token_sig, tvb(74 + idlen, 64))
end

-- An address record (proto/include/natlab/addr_record.h): the candidate count, or nil
-- if it does not parse.
local function dissect_record(p, tree)
	local n = p:len()
	if n < 58 + 64 or p(0, 1):uint() ~= 1 or p(57, 1):uint() > 12 then return nil end
	local off, cands = 58, {}
	for _ = 1, p(57, 1):uint() do
		if off + 2 > n - 64 then return nil end
		local fam = p(off + 1, 1):uint()
		local iplen = fam == 4 and 4 or (fam == 6 and 16 or nil)
		if not iplen or off + 4 + iplen > n - 64 then return nil end
		local ip = fam == 4 and tostring(p(off + 2, 4):ipv4()) or tostring(p(off + 2, 16):ipv6())
		cands[#cands + 1] = { p(off, 4 + iplen), string.format("kind %d %s%s%s:%d", p(off, 1):uint(),
			fam == 6 and "[" or "", ip, fam == 6 and "]" or "", p(off + 2 + iplen, 2):uint()) }
		off = off + 4 + iplen
	end
	if off + 64 ~= n then return nil end
	local t = tree:add(f.rec, p())
	t:add(f.rec_version, p(0, 1))
	t:add(f.rec_key, p(1, 32))
	t:add(f.rec_seq, p(33, 8))
	t:add(f.rec_expiry, p(41, 8), NSTime.new(p(41, 8):uint64():tonumber(), 0))
	t:add(f.rec_session, p(49, 8))
	t:add(f.rec_n, p(57, 1))
	for _, c in ipairs(cands) do t:add(f.rec_cand, c[1], c[2]) end
	t:add(f.rec_sig, p(off, 64))
	return #cands
end

-- One frame's payload by type; returns a short summary, or nil if it does not parse.
local function dissect_payload(ty, p, pinfo, t)
	local n = p and p:len() or 0
	local function need(exact, min)
		return (exact and n == exact) or (min and n >= min)
	end
	if ty == 1 then
		if not need(nil, 34) then return nil end
		t:add(f.version, p(0, 1))
		local fl = t:add(f.flags, p(1, 1))
		fl:add(f.token_required, p(1, 1))
		fl:add(f.records, p(1, 1))
		t:add(f.nonce, p(2, 32))
		if n > 34 then t:add(f.more, p(34)) end
		return "token " .. ((p(1, 1):uint() % 2 == 1) and "required" or "not required")
	elseif ty == 2 then
		if not need(nil, 98) then return nil end
		local tl = p(96, 2):uint()
		if n ~= 98 + tl then return nil end
		t:add(f.key, p(0, 32))
		t:add(f.sig, p(32, 64))
		t:add(f.token_len, p(96, 2))
		if tl > 0 then dissect_token(p(98, tl), t) end
		return "key " .. p(0, 4):bytes():tohex():lower() .. "..., " ..
			(tl > 0 and "with a token" or "no token")
	elseif ty == 3 then
		if not need(nil, 29) then return nil end
		t:add(f.version, p(0, 1))
		t:add(f.max_packet, p(1, 4))
		t:add(f.queue_frames, p(5, 4))
		t:add(f.rate, p(9, 4))
		t:add(f.burst, p(13, 4))
		t:add(f.keepalive, p(17, 4))
		t:add(f.token_expiry_s, p(21, 8))
		if n >= 33 then t:add(f.queue_bytes, p(29, 4)) end
		if n > 33 then t:add(f.more, p(33)) end
		return "keepalive " .. p(17, 4):uint() .. " ms"
	elseif ty == 4 or ty == 5 then
		if not need(nil, KEY_LEN) then return nil end
		t:add(ty == 4 and f.dst or f.src, p(0, KEY_LEN))
		t:add(f.data_len, n - KEY_LEN)
		if n > KEY_LEN then
			local d = p(KEY_LEN):tvb()
			t:add(f.data, p(KEY_LEN))
			if is_sealed(d) then
				dissect_sealed(d, pinfo, t)
			else
				data_dissector:call(d, pinfo, t)
			end
		end
		return (ty == 4 and "to " or "from ") .. p(0, 4):bytes():tohex():lower() .. "..., " ..
			(n - KEY_LEN) .. " bytes"
	elseif ty == 6 then
		if not need(nil, 33) then return nil end
		t:add(f.key, p(0, 32))
		t:add(f.gone_reason, p(32, 1))
		if n > 33 then t:add(f.more, p(33)) end
		return gone_reasons[p(32, 1):uint()] or tostring(p(32, 1):uint())
	elseif ty == 7 or ty == 8 then
		if not need(8) then return nil end
		t:add(f.ping, p(0, 8))
		return p(0, 8):bytes():tohex():lower()
	elseif ty == 9 then
		if not need(nil, 1) then return nil end
		t:add(f.state, p(0, 1))
		if n > 1 then t:add(f.more, p(1)) end
		return states[p(0, 1):uint()] or tostring(p(0, 1):uint())
	elseif ty == 10 then
		if not need(nil, 8) then return nil end
		t:add(f.reconnect_in, p(0, 4))
		t:add(f.try_for, p(4, 4))
		if n > 8 then t:add(f.more, p(8)) end
		return "reconnect in " .. p(0, 4):uint() .. " ms"
	elseif ty == 11 then
		if not need(nil, 1) or n > 201 then return nil end
		t:add(f.close_reason, p(0, 1))
		if n > 1 then t:add(f.close_text, p(1)) end
		return close_reasons[p(0, 1):uint()] or tostring(p(0, 1):uint())
	elseif ty == 12 then
		local c = n > 0 and dissect_record(p, t)
		return c and (c .. " candidates") or nil
	elseif ty == 13 then
		if not need(KEY_LEN) then return nil end
		t:add(f.key, p(0, KEY_LEN))
		return "key " .. p(0, 4):bytes():tohex():lower() .. "..."
	elseif ty == 14 then
		if not need(nil, KEY_LEN) then return nil end
		t:add(f.key, p(0, KEY_LEN))
		if n == KEY_LEN then return "none held" end
		local c = dissect_record(p(KEY_LEN):tvb(), t)
		return c and (c .. " candidates") or nil
	end
	return nil
end

local function frame_len(tvb, pinfo, offset)
	return FRAME_HDR + tvb(offset + 1, 4):uint()
end

local function dissect_frame(tvb, pinfo, tree)
	local ty = tvb(0, 1):uint()
	local len = tvb(1, 4):uint()
	local name = frame_types[ty] or ("type " .. ty)
	local t = tree:add(relay, tvb(), "natlab relay, " .. name)
	t:add(f.type, tvb(0, 1))
	t:add(f.length, tvb(1, 4))
	local summary = frame_types[ty] and
		dissect_payload(ty, len > 0 and tvb(FRAME_HDR, len) or nil, pinfo, t)
	if not summary then
		t:add_proto_expert_info(ef_bad, name .. " with a payload of " .. len .. " bytes")
	else
		t:append_text(": " .. summary)
	end
	pinfo.cols.protocol = "natlab-relay"
	local info = tostring(pinfo.cols.info)
	local this = name .. (summary and (" (" .. summary .. ")") or "")
	if info:find("^natlab") then
		pinfo.cols.info:append(", " .. this)
	else
		pinfo.cols.info = "natlab " .. this
	end
	return tvb:len()
end

-- A stream's bytes could be ours: a known type and a length within the limit.
local function looks_like_frame(tvb, offset)
	if tvb:len() - offset < FRAME_HDR then return false end
	local ty = tvb(offset, 1):uint()
	return frame_types[ty] ~= nil and tvb(offset + 1, 4):uint() <= FRAME_MAX_PAYLOAD
end

function relay.dissector(tvb, pinfo, tree)
	-- TLS on the relay port (a relay run with TLS): a record header, not a frame.
	if tvb:len() >= 3 and tvb(0, 1):uint() >= 0x14 and tvb(0, 1):uint() <= 0x17 and
		tvb(1, 1):uint() == 3 and tls then
		return tls:call(tvb, pinfo, tree)
	end
	if not looks_like_frame(tvb, 0) and tvb:len() >= FRAME_HDR then
		return 0
	end
	dissect_tcp_pdus(tvb, tree, FRAME_HDR, frame_len, dissect_frame, true)
	return tvb:len()
end

-- Elsewhere than the port: a stream that opens with a CHALLENGE of the right size.
local function heur_relay(tvb, pinfo, tree)
	if tvb:len() < FRAME_HDR or tvb(0, 1):uint() ~= 1 then return false end
	local len = tvb(1, 4):uint()
	if len < 34 or len > 1024 then return false end
	pinfo.conversation = relay
	relay.dissector(tvb, pinfo, tree)
	return true
end

function event.dissector(tvb, pinfo, tree)
	pinfo.cols.protocol = "natlab"
	local text = tvb():string()
	tree:add(event, tvb(), "natlab event"):add(evf.text, tvb())
	pinfo.cols.info = text
	return tvb:len()
end

local registered_port
local function register_port()
	local tcp_port = DissectorTable.get("tcp.port")
	if registered_port then tcp_port:remove(registered_port, relay) end
	registered_port = relay.prefs.port
	tcp_port:add(registered_port, relay)
end

function relay.prefs_changed()
	register_port()
end

register_port()
relay:register_heuristic("tcp", heur_relay)
peer:register_heuristic("udp", heur_peer)
-- natlab/events in a lab's pcapng is link type USER0 (encapsulation WTAP_ENCAP_USER0).
DissectorTable.get("wtap_encap"):add(wtap_encaps.USER0, event)
