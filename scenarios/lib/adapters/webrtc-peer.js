// SPDX-License-Identifier: MIT
// A WebRTC data channel between two lab hosts (@roamhq/wrtc, libwebrtc), for the
// "webrtc" adapter (docs/adapters.md): ICE with a STUN and TURN server (coturn on the
// relay host), non-trickle offer and answer exchanged through files in the run's out
// dir, N pings over the channel, and natlab-peer's events on stdout.
//   node webrtc-peer.js listen|connect OUTDIR TURN_HOST:PORT PINGS TIMEOUT_S
'use strict';
const fs = require('fs');
const path = require('path');

const [role, outdir, turn, pingsArg, timeoutArg] = process.argv.slice(2);
const pings = Number(pingsArg || 5);
const t0 = process.hrtime.bigint();
const ms = () => Number(process.hrtime.bigint() - t0) / 1e6;
const emit = (event, fields) =>
	process.stdout.write(JSON.stringify({ t_ms: ms(), event, ...fields }) + '\n');
const offerFile = path.join(outdir, 'webrtc-offer.json');
const answerFile = path.join(outdir, 'webrtc-answer.json');

function fail(reason, code) {
	emit('error', { reason });
	emit('exit', { code });
	process.exit(code);
}

let wrtc;
try {
	wrtc = require('@roamhq/wrtc');
} catch (e) {
	process.stderr.write(`${e}\n`);
	fail(`@roamhq/wrtc does not load from NODE_PATH ${process.env.NODE_PATH}: run `
		+ 'scripts/install-deps.sh, or pass --param webrtc_modules=DIR (DIR/node_modules)', 3);
}
setTimeout(() => fail('timeout', 1), Number(timeoutArg || 20) * 1000);

const pc = new wrtc.RTCPeerConnection({
	iceServers: [
		{ urls: `stun:${turn}` },
		{ urls: [`turn:${turn}?transport=udp`, `turn:${turn}?transport=tcp`],
		  username: 'natlab', credential: 'natlab' },
	],
});
const log = (what) => process.stderr.write(`${ms().toFixed(0)} ms: ${what}\n`);
pc.oniceconnectionstatechange = () => log(`ice ${pc.iceConnectionState}`);
const sleep = (t) => new Promise((r) => setTimeout(r, t));

// Candidates are sent in one go (no trickle). libwebrtc reports the end of gathering
// seconds after its last candidate (it keeps trying on interfaces that never answer,
// such as loopback), so the description is sent once a relay candidate is in and no new
// candidate came for 300 ms, at the end of gathering, or after 5 s, whichever is first.
// Every candidate (with the time it came) goes to stderr, the adapter's log.
function gathered() {
	return new Promise((resolve) => {
		let idle = null, relay = false, sent = false;
		const done = (why) => {
			if (sent) return;
			sent = true;
			clearTimeout(idle);
			log(`candidates sent (${why})`);
			resolve();
		};
		pc.onicecandidate = (e) => {
			if (!e.candidate) return;
			log(e.candidate.candidate);
			relay = relay || / typ relay /.test(e.candidate.candidate);
			clearTimeout(idle);
			if (relay) idle = setTimeout(() => done('quiet after a relay candidate'), 300);
		};
		pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && done('complete');
		setTimeout(() => done('5 s'), 5000);
	});
}

async function waitFile(file) {
	for (;;) {
		try {
			return JSON.parse(fs.readFileSync(file, 'utf8'));
		} catch (e) {
			await new Promise((r) => setTimeout(r, 20));
		}
	}
}

// The path ICE chose: through TURN if either end of the pair is a relay candidate.
async function pathKind() {
	const stats = await pc.getStats();
	let pair;
	stats.forEach((s) => {
		if (s.type === 'transport' && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId);
	});
	if (!pair) stats.forEach((s) => { if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') pair = s; });
	if (!pair) return { kind: 'none' };
	const l = stats.get(pair.localCandidateId), r = stats.get(pair.remoteCandidateId);
	const relay = (l && l.candidateType === 'relay') || (r && r.candidateType === 'relay');
	return { kind: relay ? 'relay' : 'direct',
		 // A peer-reflexive remote (learnt from its checks) has no address in the stats.
		 remote: r && (r.address || r.ip) ? `${r.address || r.ip}:${r.port}` : null };
}

// The listener echoes pings and exits when the connector says it is done: ICE would
// notice the connector's end only after its consent timeout, seconds later.
function serve(dc) {
	dc.onmessage = (m) => {
		if (m.data !== 'bye') return dc.send(m.data);
		emit('exit', { code: 0 });
		pc.close();
		process.exit(0);
	};
}

// ICE opens the channel on the first pair that works (often the TURN one, since a
// punch needs both sides' checks) and moves to a better pair when one succeeds: the
// selected pair is read while ICE settles, before every ping and once after the last,
// and each change is a path event, so the last one is the path the workload ended on.
let lastPath = null;
async function trackPath() {
	const p = await pathKind();
	if (!lastPath || p.kind !== lastPath.kind || p.remote !== lastPath.remote) emit('path', p);
	lastPath = p;
	return p;
}

// Whether a pair without a TURN end is still being checked: a direct path may yet come.
async function directPending() {
	const stats = await pc.getStats();
	let pending = false;
	stats.forEach((s) => {
		if (s.type !== 'candidate-pair' || !['frozen', 'waiting', 'in-progress'].includes(s.state)) return;
		const l = stats.get(s.localCandidateId), r = stats.get(s.remoteCandidateId);
		if (l && r && l.candidateType !== 'relay' && r.candidateType !== 'relay') pending = true;
	});
	return pending;
}

// The workload starts once ICE has settled, as an application that waits for it would:
// on a direct pair, when no direct pair is left to check, or 3 s after the channel
// opened. Started at once, its first pings would cross TURN in a cell that then goes
// direct, and the wire would judge the run by how soon ICE switched.
async function settle() {
	const until = ms() + 3000;
	for (;;) {
		const p = await trackPath();
		if (p.kind === 'direct') return log('settled: direct');
		if (ms() >= until) return log('settled: 3 s');
		if (!(await directPending())) return log('settled: no direct pair left to check');
		await sleep(50);
	}
}

// Each ping carries 1000 bytes, echoed: the workload outweighs the STUN checks and TURN
// refreshes that keep flowing through the relay after the switch, which the wire's
// verdict weighs it against (docs/adapters.md).
const PAD = 'x'.repeat(1000);

async function ping(dc) {
	await settle();
	let got = 0;
	for (let seq = 0; seq < pings; seq++) {
		const p = await trackPath();
		const sent = ms();
		await new Promise((resolve) => {
			dc.onmessage = () => resolve();
			dc.send(`${seq} ${PAD}`);
		});
		got++;
		emit('rtt', { ms: ms() - sent, path: p.kind, source: 'ping', seq });
		await sleep(100);
	}
	await trackPath();
	emit('ping_done', { sent: pings, received: got });
	dc.send('bye');
	// Give the bye its way out before the connection closes.
	await sleep(50);
	emit('exit', { code: 0 });
	pc.close();
	process.exit(0);
}

(async () => {
	emit('started', { role: role === 'listen' ? 'listener' : 'connector' });
	emit('relay_connected', { relay: turn });
	if (role === 'listen') {
		pc.ondatachannel = (e) => serve(e.channel);
		const offer = await waitFile(offerFile);
		fs.unlinkSync(offerFile);
		await pc.setRemoteDescription(offer);
		await pc.setLocalDescription(await pc.createAnswer());
		await gathered();
		fs.writeFileSync(answerFile + '.tmp', JSON.stringify(pc.localDescription));
		fs.renameSync(answerFile + '.tmp', answerFile);
		pc.onconnectionstatechange = () => {
			if (pc.connectionState === 'closed' || pc.connectionState === 'failed') process.exit(0);
		};
		return;
	}
	try { fs.unlinkSync(answerFile); } catch (e) { /* none left from an earlier run */ }
	const dc = pc.createDataChannel('natlab');
	await pc.setLocalDescription(await pc.createOffer());
	await gathered();
	fs.writeFileSync(offerFile + '.tmp', JSON.stringify(pc.localDescription));
	fs.renameSync(offerFile + '.tmp', offerFile);
	const answer = await waitFile(answerFile);
	fs.unlinkSync(answerFile);
	await pc.setRemoteDescription(answer);
	dc.onopen = () => ping(dc).catch((e) => fail(String(e), 1));
})().catch((e) => fail(String(e), 1));
