/** The admin page's style sheet (inline, allowed by hash in the page's content security policy). */
export const ADMIN_STYLE = `
:root { color-scheme: light dark; --bg: #f5f6f8; --panel: #fff; --text: #1d2330; --muted: #667085;
  --line: #e4e7ec; --accent: #3b5bdb; --accent-soft: rgba(59, 91, 219, .12); --ok: #2b8a3e; --warn: #e67700;
  --bad: #c92a2a; --bad-soft: rgba(201, 42, 42, .08); --green: #2f9e44; --green-soft: rgba(47, 158, 68, .12);
  --violet: #7048e8; --violet-soft: rgba(112, 72, 232, .12); --orange: #e8590c; --orange-soft: rgba(232, 89, 12, .12); }
@media (prefers-color-scheme: dark) { :root { --bg: #111418; --panel: #1a1e25; --text: #e6e8ec; --muted: #98a2b3;
  --line: #2b313b; --accent: #7c94ff; --accent-soft: rgba(124, 148, 255, .16); --ok: #51cf66; --warn: #ffa94d;
  --bad: #ff6b6b; --bad-soft: rgba(255, 107, 107, .1); --green: #51cf66; --green-soft: rgba(81, 207, 102, .14);
  --violet: #9775fa; --violet-soft: rgba(151, 117, 250, .16); --orange: #ff922b; --orange-soft: rgba(255, 146, 43, .14); } }
* { box-sizing: border-box; }
[hidden] { display: none !important; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background: var(--bg);
  color: var(--text); }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
header { display: flex; align-items: center; gap: 12px; padding: 12px 24px; background: var(--panel);
  border-bottom: 1px solid var(--line); }
header h1 { margin: 0; font-size: 18px; letter-spacing: .3px; }
header .sub { color: var(--muted); }
header .right { margin-left: auto; display: flex; align-items: center; gap: 12px; }
.pill { display: inline-flex; align-items: center; gap: 6px; padding: 3px 10px; border-radius: 999px;
  border: 1px solid var(--line); font-weight: 600; font-size: 12px; white-space: nowrap; }
.pill::before { content: ""; width: 8px; height: 8px; border-radius: 50%; background: var(--muted); }
.pill.open::before { background: var(--ok); } .pill.connecting::before { background: var(--warn); }
.pill.closed::before { background: var(--bad); }
.muted { color: var(--muted); }
button { padding: 7px 14px; border: 0; border-radius: 6px; background: var(--accent); color: #fff; font: inherit;
  font-weight: 600; cursor: pointer; }
button.secondary { background: transparent; color: var(--accent); border: 1px solid var(--accent); }
button.small { padding: 3px 10px; font-size: 12px; }
input[type=text], input[type=password], textarea { width: 100%; padding: 7px 9px; border: 1px solid var(--line);
  border-radius: 6px; background: var(--bg); color: var(--text); font: 13px ui-monospace, SFMono-Regular, Menlo, monospace; }
textarea { min-height: 70px; resize: vertical; }
label { display: block; font-size: 12px; color: var(--muted); margin: 8px 0 3px; }
.gate { max-width: 420px; margin: 12vh auto; background: var(--panel); border: 1px solid var(--line);
  border-radius: 12px; padding: 22px 24px; }
.gate h2 { margin: 0 0 6px; font-size: 17px; }
.gate p { margin: 0 0 12px; color: var(--muted); }
.gate button { margin-top: 12px; width: 100%; }
main { padding: 16px 24px 24px; display: grid; gap: 16px; }
.cards { display: grid; grid-template-columns: repeat(4, minmax(0, 1fr)); gap: 16px; }
.grid2 { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 16px; }
.grid2.bottom { grid-template-columns: minmax(0, 2fr) minmax(0, 3fr); align-items: start; }
@media (max-width: 1000px) { .cards { grid-template-columns: repeat(2, minmax(0, 1fr)); } .grid2, .grid2.bottom { grid-template-columns: 1fr; } }
section { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 14px 16px; min-width: 0; }
section h2 { font-size: 12px; text-transform: uppercase; letter-spacing: .6px; color: var(--muted); margin: 0 0 10px;
  display: flex; align-items: center; gap: 8px; }
section h2 .count { margin-left: auto; text-transform: none; letter-spacing: 0; font-weight: 500; }
.card .value { font-size: 28px; font-weight: 650; font-variant-numeric: tabular-nums; line-height: 1.1; }
.card .unit { font-size: 13px; color: var(--muted); font-weight: 500; margin-left: 4px; }
.card .detail { font-size: 12px; color: var(--muted); margin-top: 2px; min-height: 1.4em; }
.spark { display: block; width: 100%; height: 46px; margin-top: 8px; }
.spark .area { stroke: none; } .spark .line { fill: none; stroke-width: 1.6; }
.spark .base { fill: none; stroke: var(--line); stroke-width: 1; }
.axis { display: flex; justify-content: space-between; font-size: 10.5px; color: var(--muted); margin-top: 2px; }
.c-accent .area { fill: var(--accent-soft); } .c-accent .line { stroke: var(--accent); }
.c-green .area { fill: var(--green-soft); } .c-green .line { stroke: var(--green); }
.c-violet .area { fill: var(--violet-soft); } .c-violet .line { stroke: var(--violet); }
.c-orange .area { fill: var(--orange-soft); } .c-orange .line { stroke: var(--orange); }
table { width: 100%; border-collapse: collapse; font-size: 13px; }
th { text-align: left; font-weight: 600; color: var(--muted); font-size: 12px; padding: 4px 8px; border-bottom: 1px solid var(--line); }
td { padding: 6px 8px; border-bottom: 1px solid var(--line); vertical-align: middle; }
td.name { font-family: ui-monospace, monospace; word-break: break-all; }
td.num { text-align: right; font-variant-numeric: tabular-nums; width: 70px; }
td.bar { width: 38%; }
.bar span { display: block; height: 8px; border-radius: 4px; background: var(--accent); min-width: 2px; }
.tag { display: inline-block; font-size: 11px; padding: 0 6px; border-radius: 4px; border: 1px solid var(--line);
  color: var(--muted); margin-left: 6px; font-family: system-ui, sans-serif; }
.scroll { max-height: 300px; overflow: auto; }
form + .scroll { margin-top: 12px; }
.empty { color: var(--muted); padding: 14px 4px; }
ol.list { list-style: none; margin: 0; padding: 0; }
ol.list li { padding: 7px 4px; border-top: 1px solid var(--line); font-size: 13px; display: grid; gap: 2px 10px;
  grid-template-columns: 70px minmax(0, 1fr); }
ol.list li:first-child { border-top: 0; }
ol.list .time { color: var(--muted); font-variant-numeric: tabular-nums; font-size: 12px; }
ol.list .head { font-weight: 600; word-break: break-all; }
ol.list .status { display: inline-block; min-width: 34px; text-align: center; border-radius: 4px; margin-right: 6px;
  background: var(--bad-soft); color: var(--bad); font-size: 12px; padding: 0 4px; }
ol.list .msg { grid-column: 2; color: var(--muted); word-break: break-word; }
ol.list pre { grid-column: 2; margin: 0; white-space: pre-wrap; word-break: break-word; font: 12.5px ui-monospace, monospace; }
ol.list .id { color: var(--muted); font-weight: 400; font-size: 11px; margin-left: 6px; font-family: ui-monospace, monospace; }
.row { display: flex; gap: 8px; align-items: flex-end; } .row > .grow { flex: 1; min-width: 0; }
.actions { display: flex; gap: 8px; margin-top: 10px; align-items: center; }
.result { font-size: 12px; min-height: 1.4em; word-break: break-word; }
.result.ok { color: var(--ok); } .result.bad { color: var(--bad); }
.foot { color: var(--muted); font-size: 12px; }
`
