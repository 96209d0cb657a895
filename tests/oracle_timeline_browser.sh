#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# report.html's timeline in a real browser (chromium-headless-shell, --dump-dom): a run
# with a process's events (punch, a direct path with an rtt event 1 ms after it, an
# error), packets on its interfaces and a failed expectation. A script appended to a copy
# of the page checks what the browser laid out: the timeline's lanes, dots and ticks
# exist; every mark and word lies inside the SVG (the last tick's "NNNN ms" was cut off);
# no two words overlap; every coloured dot is the topmost element at its centre (a grey
# dot drawn after it hid the path's); and no script error was raised.
. "$(dirname "$0")/lib/lab.sh"
t_require_root
t_require socat
BROWSER=$(command -v chromium-headless-shell || command -v chromium)
[ -n "$BROWSER" ] || t_skip_all "chromium-headless-shell is not installed (scripts/install-deps.sh)"
cd "$T_TMP" || exit 1

L=$(t_lab_name b)
T_LABS+=("$L")
cat >tl.lua <<LUA
local lab = natlab.lab{ name = "$L" }
local inet = lab:internet{}
local srv = lab:host{ name = "srv", net = inet }
local nat = lab:nat{ name = "nat", net = inet, profile = "full-cone" }
local h = lab:host{ name = "h", net = nat }
lab:up()
local l = srv:spawn{ "socat", "-u", "UDP-RECV:5000", "/dev/null" }
natlab.sleep(0.2)
h:spawn{ "sh", "-c", "for i in 1 2 3 4 5; do echo x | socat -u - UDP:" .. srv.addr .. ":5000; sleep 0.1; done" }
 :wait{ timeout = "5s" }
local p = h:spawn{ "sh", "-c", [[
echo '{"event":"punch","attempt":1}'; sleep 0.3
echo '{"event":"path","kind":"direct"}'; echo '{"event":"rtt","ms":1}'; sleep 0.3
echo '{"event":"connected"}'; sleep 0.3
echo '{"event":"error","reason":"x"}']], json = true }
p:wait{ timeout = "5s" }
l:kill()
expect(false, "a failed expectation for the timeline")
LUA
"$NATLAB" run tl.lua --out o --pcap all >o.tap 2>o.err
t_is $? 1 "the run ends with its one failed expectation" "$(cat o.tap; tail -3 o.err)"
t_ok "$(grep -q 'class="tl"' o/report.html; echo $?)" "report.html has a timeline"

# The checks run in the page once it is parsed; errors are caught from the first line.
{
	sed 's|<head>|<head><script>window.__errs=[];window.addEventListener("error",function(e){__errs.push(String(e.message))});</script>|' o/report.html |
		sed 's|</body>||; s|</html>||'
	cat <<'JS'
<script>
(function () {
	var r = { errs: window.__errs, bad: [] };
	try {
		var svg = document.querySelector("svg.tl");
		var box = svg.getBoundingClientRect();
		var vb = svg.viewBox.baseVal;
		r.lanes = svg.querySelectorAll("line.lane").length;
		r.dots = svg.querySelectorAll("circle").length;
		r.ticks = svg.querySelectorAll("g > line").length;
		r.words = svg.querySelectorAll("text.ev").length;
		r.width = vb.width;
		svg.querySelectorAll("circle, g > line, text").forEach(function (e) {
			var b = e.getBBox();
			if (b.x < 0 || b.y < 0 || b.x + b.width > vb.width + 0.5 ||
			    b.y + b.height > vb.height + 0.5)
				r.bad.push("outside: " + (e.textContent || e.outerHTML).slice(0, 60) +
				           " x " + b.x.toFixed(1) + "+" + b.width.toFixed(1));
		});
		var words = Array.prototype.slice.call(svg.querySelectorAll("text.ev"));
		words.forEach(function (a, i) {
			var p = a.getBBox();
			words.slice(i + 1).forEach(function (b) {
				var q = b.getBBox();
				if (p.x < q.x + q.width && q.x < p.x + p.width && p.y < q.y + q.height &&
				    q.y < p.y + p.height)
					r.bad.push("overlap: " + a.textContent + " / " + b.textContent);
			});
		});
		svg.scrollIntoView();
		box = svg.getBoundingClientRect();
		var sx = box.width / vb.width, sy = box.height / vb.height;
		svg.querySelectorAll("circle").forEach(function (c) {
			var fill = c.getAttribute("fill");
			if (fill === "#8a939c")
				return;
			var x = box.left + c.cx.baseVal.value * sx, y = box.top + c.cy.baseVal.value * sy;
			var top = document.elementFromPoint(x, y);
			if (top !== c && !(top && top.tagName === "circle" &&
			                   top.getAttribute("fill") !== "#8a939c"))
				r.bad.push("hidden: " + fill + " " + c.nextSibling.textContent.slice(0, 40) +
				           " under " + (top ? top.outerHTML.slice(0, 60) : "nothing"));
		});
	} catch (e) {
		r.errs.push("check: " + e.message);
	}
	var pre = document.createElement("pre");
	pre.id = "tlcheck";
	pre.textContent = "TLCHECK " + JSON.stringify(r);
	document.body.appendChild(pre);
})();
</script>
</body></html>
JS
} >o/check.html
timeout 60 "$BROWSER" --no-sandbox --disable-gpu --headless --window-size=1400,1200 --dump-dom \
	"file://$T_TMP/o/check.html" >dom.html 2>browser.err
t_is $? 0 "the browser loaded the page" "$(tail -3 browser.err)"
res=$(sed -n 's/.*TLCHECK \(.*\)<\/pre>.*/\1/p' dom.html | sed 's/&quot;/"/g; s/&amp;/\&/g; s/&lt;/</g; s/&gt;/>/g')
echo "# $res"
t_ok "$([ -n "$res" ]; echo $?)" "the check script ran" "$(tail -5 dom.html)"
t_is "$(echo "$res" | jq -c '.errs')" "[]" "no script error"
t_ok "$(echo "$res" | jq -e '.lanes >= 4 and .dots >= 6 and .ticks >= 5 and .words >= 3' >/dev/null; echo $?)" \
	"lanes, dots, ticks and words are drawn" "$res"
t_is "$(echo "$res" | jq -r '.bad | join("; ")')" "" "every mark and word inside the SVG, no words overlap, no coloured dot hidden"
t_done
