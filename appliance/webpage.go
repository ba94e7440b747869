package appliance

// webPage is the status page for a browser: the text page's sections as
// tables, and per-device packet, bit and drop rates, interrupt and
// softnet rates as charts, redrawn every second from /status.json. It
// loads nothing from elsewhere (the appliance has no internet, and the
// page's policy forbids it): inline style and script, canvas charts.
// body's data-updates counts the charts' redraws, for tests and for
// anyone wondering whether the page is live.
const webPage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>ringo appliance</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 1em 2em; color: #222; background: #fff; }
h1 { font-size: 1.4em; margin: 0 0 .2em; }
h2 { font-size: 1.1em; margin: 1.2em 0 .4em; border-bottom: 1px solid #ddd; }
#state { color: #666; }
#state.stale { color: #b00; }
table { border-collapse: collapse; font: 12px/1.3 ui-monospace, monospace; }
th, td { padding: 2px 10px 2px 0; text-align: left; white-space: nowrap; }
td.n { text-align: right; }
th { color: #555; font-weight: 600; }
#charts { display: flex; flex-wrap: wrap; gap: 12px; }
figure { margin: 0; border: 1px solid #ddd; padding: 4px; }
figcaption { font-size: 12px; color: #444; }
canvas { display: block; }
details { margin: .3em 0; }
summary { cursor: pointer; font-weight: 600; }
footer { margin-top: 2em; color: #666; font-size: 12px; }
</style>
</head>
<body data-updates="0">
<h1>ringo appliance</h1>
<div id="state">waiting for /status.json</div>
<h2>Rates (last 60 s)</h2>
<div id="charts"></div>
<h2>ip -s link</h2><table id="links"></table>
<h2>ip addr</h2><table id="addrs"></table>
<h2>ip route</h2><table id="routes"></table>
<h2>nameservers</h2><table id="dns"></table>
<h2>ip neigh</h2><table id="neigh"></table>
<h2>softnet_stat</h2><table id="softnet"></table>
<h2>interrupts</h2><table id="irqs"></table>
<h2>ss -tu</h2><table id="sockets"></table>
<h2>services</h2><table id="services"></table>
<h2>snmp</h2><div id="snmp"></div>
<h2>ethtool -S</h2><div id="ethtool"></div>
<footer>The same as text: <a href="/status.txt">/status.txt</a> · JSON: <a href="/status.json">/status.json</a> · Prometheus: <a href="/metrics">/metrics</a></footer>
<script>
"use strict";
var HISTORY = 60, COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"];
var prev = null, charts = {}, order = [], updates = 0;

function $(id) { return document.getElementById(id); }

function human(v) {
	var units = ["", "k", "M", "G", "T"], i = 0;
	while (Math.abs(v) >= 1000 && i < units.length - 1) { v /= 1000; i++; }
	return (i === 0 ? Math.round(v * 10) / 10 : v.toFixed(1)) + units[i];
}

function table(id, head, rows) {
	var t = $(id), tr = document.createElement("tr");
	t.replaceChildren();
	head.forEach(function (h) { var th = document.createElement("th"); th.textContent = h; tr.appendChild(th); });
	t.appendChild(tr);
	rows.forEach(function (r) {
		var row = document.createElement("tr");
		r.forEach(function (c) {
			var td = document.createElement("td");
			td.textContent = c === undefined || c === null ? "" : String(c);
			if (typeof c === "number") { td.className = "n"; }
			row.appendChild(td);
		});
		t.appendChild(row);
	});
}

function groups(id, title, maps) {
	var div = $(id), open = {};
	div.querySelectorAll("details[open]").forEach(function (d) { open[d.dataset.key] = true; });
	div.replaceChildren();
	Object.keys(maps).sort().forEach(function (k) {
		var d = document.createElement("details"), s = document.createElement("summary"), t = document.createElement("table");
		d.dataset.key = k;
		d.open = !!open[k];
		s.textContent = title(k);
		t.id = id + "-" + k;
		d.appendChild(s);
		d.appendChild(t);
		div.appendChild(d);
		table(t.id, ["counter", "value"], Object.keys(maps[k]).sort().map(function (n) { return [n, maps[k][n]]; }));
	});
}

// point adds one sample per line to chart key, creating it (a canvas in
// #charts) the first time.
function point(key, title, lines) {
	var c = charts[key];
	if (!c) {
		var fig = document.createElement("figure"), cap = document.createElement("figcaption"), cv = document.createElement("canvas");
		cv.width = 300; cv.height = 90; cv.dataset.points = "0";
		cv.setAttribute("role", "img");
		cv.setAttribute("aria-label", title);
		cap.textContent = title;
		fig.appendChild(cap); fig.appendChild(cv);
		$("charts").appendChild(fig);
		c = charts[key] = { canvas: cv, lines: {}, points: 0 };
		order.push(key);
	}
	Object.keys(lines).forEach(function (l) {
		var s = c.lines[l] || (c.lines[l] = []);
		s.push(Math.max(0, lines[l]));
		if (s.length > HISTORY) { s.shift(); }
	});
	c.points++;
}

function draw(c) {
	var cv = c.canvas, g = cv.getContext("2d"), w = cv.width, h = cv.height - 14, max = 1, names = Object.keys(c.lines);
	names.forEach(function (n) { c.lines[n].forEach(function (v) { if (v > max) { max = v; } }); });
	g.clearRect(0, 0, cv.width, cv.height);
	g.strokeStyle = "#eee"; g.lineWidth = 1;
	for (var y = 0; y <= 2; y++) { g.beginPath(); g.moveTo(0, 1 + y * (h - 2) / 2); g.lineTo(w, 1 + y * (h - 2) / 2); g.stroke(); }
	g.font = "10px sans-serif"; g.fillStyle = "#666"; g.fillText(human(max), 2, 10);
	var x = 40;
	names.forEach(function (n, i) {
		var s = c.lines[n], col = COLORS[i % COLORS.length];
		g.strokeStyle = col; g.lineWidth = 1.5; g.beginPath();
		s.forEach(function (v, j) {
			var px = w - (s.length - 1 - j) * (w / (HISTORY - 1)), py = h - 1 - v / max * (h - 4);
			if (j === 0) { g.moveTo(px, py); } else { g.lineTo(px, py); }
		});
		g.stroke();
		g.fillStyle = col;
		var label = n + " " + human(s[s.length - 1]);
		g.fillText(label, x, cv.height - 2);
		x += g.measureText(label).width + 10;
	});
	cv.dataset.points = String(c.points);
}

function delta(now, before, key, dt) {
	if (!before) { return 0; }
	var d = (now[key] || 0) - (before[key] || 0);
	return d > 0 ? d / dt : 0; // a counter that went back (a reset) is no rate
}

function rates(st) {
	var dt = (st.time_ms - prev.time_ms) / 1000;
	if (dt <= 0) { return false; }
	var byName = {};
	prev.devices.forEach(function (d) { byName[d.name] = d; });
	st.devices.forEach(function (d) {
		var p = byName[d.name], a = d.stats, b = p && p.stats;
		if (d.kind === "loopback") { return; }
		point(d.name + "-pps", d.name + ": packets/s", { rx: delta(a, b, "rx_packets", dt), tx: delta(a, b, "tx_packets", dt) });
		point(d.name + "-bps", d.name + ": bits/s", { rx: 8 * delta(a, b, "rx_bytes", dt), tx: 8 * delta(a, b, "tx_bytes", dt) });
		point(d.name + "-drops", d.name + ": drops and errors/s", {
			rx: delta(a, b, "rx_dropped", dt) + delta(a, b, "rx_missed_errors", dt) + delta(a, b, "rx_errors", dt),
			tx: delta(a, b, "tx_dropped", dt) + delta(a, b, "tx_errors", dt)
		});
	});
	var irq = {}, pirq = {}, soft = {}, squeeze = {};
	(prev.interrupts || []).forEach(function (l) { pirq[l.line] = l; });
	(st.interrupts || []).forEach(function (l) { irq[l.line] = delta(l, pirq[l.line], "count", dt); });
	point("irq", "interrupts/s", irq);
	st.softnet.forEach(function (s, i) {
		var p = prev.softnet[i];
		soft["cpu" + s.cpu] = delta(s, p, "processed", dt);
		squeeze["cpu" + s.cpu] = delta(s, p, "time_squeeze", dt) + delta(s, p, "dropped", dt);
	});
	point("softnet", "softnet: packets processed/s", soft);
	point("squeeze", "softnet: squeezes and drops/s", squeeze);
	order.forEach(function (k) { draw(charts[k]); });
	return true;
}

function tables(st) {
	table("links", ["dev", "kind", "pci", "mac", "state", "mtu", "rx packets", "rx bytes", "rx errors", "rx dropped", "tx packets", "tx bytes", "tx errors", "tx dropped", "qdisc drops"],
		st.devices.map(function (d) {
			var s = d.stats;
			return [d.name, d.kind, d.pci, d.mac, d.state, d.mtu, s.rx_packets, s.rx_bytes, s.rx_errors, s.rx_dropped, s.tx_packets, s.tx_bytes, s.tx_errors, s.tx_dropped, d.qdisc.drops];
		}));
	table("addrs", ["dev", "family", "address", "state", "how"], (st.addrs || []).map(function (a) { return [a.dev, a.family, a.prefix, a.state, a.how]; }));
	table("routes", ["destination", "gateway", "dev", "metric"], (st.routes || []).map(function (r) { return [r.dst, r.gateway, r.dev, r.metric]; }));
	table("dns", ["nameserver"], (st.nameservers || []).map(function (a) { return [a]; }));
	table("neigh", ["address", "dev", "lladdr", "state", "queued"], (st.neigh || []).map(function (n) { return [n.ip, n.dev, n.mac, n.state, n.queued]; }));
	table("softnet", ["cpu", "processed", "dropped", "time squeeze", "received rps", "backlog"], st.softnet.map(function (s) { return [s.cpu, s.processed, s.dropped, s.time_squeeze, s.received_rps, s.backlog]; }));
	table("irqs", ["line", "cpu", "count", "spurious"], (st.interrupts || []).map(function (l) { return [l.line, l.cpu, l.count, l.spurious]; }));
	table("sockets", ["proto", "state", "local", "remote", "recv-q", "send-q", "cc", "cwnd", "rtt µs"], (st.sockets || []).map(function (s) {
		return [s.proto, s.state, s.local, s.remote, s.recv_q, s.send_q, s.cc, s.cwnd, s.rtt_us];
	}));
	table("services", ["counter", "value"], Object.keys(st.services).sort().map(function (k) { return [k, st.services[k]]; }));
	groups("snmp", function (k) { return k; }, st.snmp);
	var eth = {};
	st.devices.forEach(function (d) { if (d.driver) { eth[d.name] = d.driver; } });
	groups("ethtool", function (k) { return k; }, eth);
}

function update(st) {
	if (prev && rates(st)) {
		updates++;
		document.body.dataset.updates = String(updates);
	}
	tables(st);
	prev = st;
	var s = $("state");
	s.className = "";
	s.textContent = "up " + Math.round(st.uptime_s) + " s · updated " + new Date(st.time_ms).toLocaleTimeString();
}

function tick() {
	fetch("/status.json", { cache: "no-store" })
		.then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); })
		.then(update)
		.catch(function (e) { var s = $("state"); s.className = "stale"; s.textContent = "no answer from the appliance: " + e.message; })
		.finally(function () { setTimeout(tick, 1000); });
}
tick();
</script>
</body>
</html>
`
