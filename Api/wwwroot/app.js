// The Tally dashboard: a year at a glance, drilling from any figure down to the events behind it.
// It talks only to the public API (/api/v1) with the key the user typed; the key lives in sessionStorage.

const KEY_STORAGE = "tally.key";
const REFRESH_MS = 5000;
const API = "/api/v1";
const PAGE = 1000;

const $ = (id) => document.getElementById(id);
const state = {
  key: sessionStorage.getItem(KEY_STORAGE),
  metrics: [],
  orgUnits: [],
  campaigns: [],
  year: null,
  orgUnit: null,
  campaign: "",
  trendMetric: null,
  dimKey: null,
  charts: {},
  drill: null,
  timer: null,
  refreshing: false,
  tick: {},
  previousReport: null,
  reportText: null,
  me: null,
};

class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

async function api(path, params = {}, accept = "application/json") {
  const url = new URL(API + path, location.origin);
  for (const [name, value] of Object.entries(params)) {
    if (value === null || value === undefined || value === "") continue;
    for (const v of Array.isArray(value) ? value : [value]) url.searchParams.append(name, v);
  }
  const response = await fetch(url, { headers: { Authorization: `Bearer ${state.key}`, Accept: accept } });
  if (!response.ok) {
    let problem = null;
    try { problem = await response.json(); } catch { /* not a problem body */ }
    throw new ApiError(response.status, problem);
  }
  if (accept === "application/json") return response.json();
  return response;
}

async function listAll(path) {
  const items = [];
  let cursor = null;
  do {
    const page = await api(path, { limit: PAGE, cursor });
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return items;
}

const number = (n) => Number(n).toLocaleString("zh-CN");
const metricOf = (code) => state.metrics.find((m) => m.code === code);
// A dimension's name (场所) and a value's name (社区) from GET /metrics; the code when the catalog names none.
const dimensionOf = (metricCode, key) => metricOf(metricCode)?.dimensions.find((d) => d.key === key);
const dimName = (metricCode, key) => dimensionOf(metricCode, key)?.name ?? key;
const dimValueName = (metricCode, key, value) => dimensionOf(metricCode, key)?.valueNames?.[value] ?? value;
const orgUnitOf = (code) => state.orgUnits.find((o) => o.code === code);
/** A unit as the page labels it: its short name (河东区) when it has one, else its name. */
const orgName = (code) => { const unit = orgUnitOf(code); return unit ? unit.shortName || unit.name : code; };
const campaignName = (code) => state.campaigns.find((c) => c.code === code)?.name ?? code;
const escapeHtml = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
const monthRange = (year, month) => {
  const last = new Date(Date.UTC(year, month, 0)).getUTCDate();
  const mm = String(month).padStart(2, "0");
  return { from: `${year}-${mm}-01`, to: `${year}-${mm}-${String(last).padStart(2, "0")}` };
};

// ---- sign in and out -------------------------------------------------------------------------------------------

function showSignin(message) {
  stopRefresh();
  $("app").hidden = true;
  $("signin").hidden = false;
  $("signin-error").hidden = !message;
  $("signin-error").textContent = message ?? "";
  $("key-input").value = "";
  $("key-input").focus();
}

async function signIn(key) {
  state.key = key;
  // The years with data only choose the default year: asked beside the catalog, and never fatal.
  const periods = api("/periods", { limit: PAGE }).catch(() => null);
  // The key's own org unit (GET /me) chooses the default unit; a server without it leaves the choice to the data.
  const me = api("/me").catch(() => null);
  try {
    await loadCatalog();
  } catch (error) {
    state.key = null;
    sessionStorage.removeItem(KEY_STORAGE);
    showSignin(error.status === 401 ? "密钥无效或已吊销。" : `无法连接服务：${error.message}`);
    return;
  }
  sessionStorage.setItem(KEY_STORAGE, key);
  const years = (await periods)?.items.map((p) => p.year) ?? [];
  if (years.length) state.periodsLatest = Math.max(...years);
  state.me = await me;
  $("signin").hidden = true;
  $("app").hidden = false;
  setupFilters();
  await chooseDefaultOrgUnit();
  await refresh();
  startRefresh();
}

function signOut() {
  sessionStorage.removeItem(KEY_STORAGE);
  reporting.loaded = false;
  state.key = null;
  for (const chart of Object.values(state.charts)) chart.dispose();
  state.charts = {};
  showSignin();
}

// ---- catalog and filters ---------------------------------------------------------------------------------------

async function loadCatalog() {
  const [metrics, orgUnits, campaigns] = await Promise.all([listAll("/metrics"), listAll("/org-units"), listAll("/campaigns")]);
  state.metrics = metrics.filter((m) => m.active);
  state.orgUnits = orgUnits;
  state.campaigns = campaigns;
}

/** The units the key sees, as a tree: roots are units whose parent is not visible. */
function orgTree() {
  const visible = new Set(state.orgUnits.map((o) => o.code));
  const children = new Map();
  for (const unit of state.orgUnits) {
    const parent = visible.has(unit.parent) ? unit.parent : null;
    if (!children.has(parent)) children.set(parent, []);
    children.get(parent).push(unit);
  }
  const rows = [];
  const walk = (parent, depth) => {
    for (const unit of children.get(parent) ?? []) {
      rows.push({ unit, depth });
      walk(unit.code, depth + 1);
    }
  };
  walk(null, 0);
  return rows;
}

function setupFilters() {
  const thisYear = new Date().getUTCFullYear();
  const yearSelect = $("year-select");
  yearSelect.innerHTML = "";
  for (let y = thisYear; y >= 2000; y--) yearSelect.add(new Option(`${y}年`, String(y)));
  state.year ??= defaultYear(thisYear);
  yearSelect.value = String(state.year);

  const orgSelect = $("org-select");
  orgSelect.innerHTML = "";
  const tree = orgTree();
  for (const { unit, depth } of tree) {
    const option = new Option(`${"\u3000".repeat(depth)}${orgName(unit.code)}`, unit.code);
    option.title = unit.name;
    orgSelect.add(option);
  }
  state.orgUnit = tree.some((r) => r.unit.code === state.orgUnit) ? state.orgUnit : tree[0]?.unit.code ?? null;
  orgSelect.value = state.orgUnit ?? "";

  const campaignSelect = $("campaign-select");
  campaignSelect.length = 1;
  for (const c of state.campaigns) campaignSelect.add(new Option(c.name, c.code));
  campaignSelect.value = state.campaign;

  const trendSelect = $("trend-metric");
  trendSelect.innerHTML = "";
  for (const m of state.metrics) trendSelect.add(new Option(m.name, m.code));
  state.trendMetric = metricOf(state.trendMetric)?.code ?? state.metrics[0]?.code ?? null;
  trendSelect.value = state.trendMetric ?? "";
  setupDimensionSelect();
}

/**
 * The unit the page opens on, unless one was chosen already: the unit the key is bound to, else the smallest unit
 * that holds all of the year's data (hedong for the sample, not the city above it), else the top of the tree.
 */
async function chooseDefaultOrgUnit() {
  if (state.orgUnitChosen) return;
  const tree = orgTree();
  const visible = (code) => tree.some((r) => r.unit.code === code);
  let choice = visible(state.me?.orgUnit) ? state.me.orgUnit : null;
  if (!choice) {
    const totals = await api("/totals", { year: state.year, groupBy: "orgUnit" }).catch(() => null);
    const units = [...new Set((totals?.rows ?? []).filter((r) => r.events > 0 && r.orgUnit).map((r) => r.orgUnit))];
    choice = commonAncestor(units);
  }
  if (visible(choice)) {
    state.orgUnit = choice;
    $("org-select").value = choice;
  }
}

/** The deepest unit whose subtree holds every unit given (null for none). */
function commonAncestor(codes) {
  const chain = (code) => {
    const path = [];
    for (let unit = orgUnitOf(code); unit && !path.includes(unit.code); unit = orgUnitOf(unit.parent)) path.unshift(unit.code);
    return path;
  };
  const chains = codes.map(chain).filter((c) => c.length);
  if (!chains.length) return null;
  let common = null;
  for (let i = 0; chains.every((c) => i < c.length && c[i] === chains[0][i]); i++) common = chains[0][i];
  return common;
}

function defaultYear(thisYear) {
  // The latest year with data is the one people come to look at; until periods say otherwise, last year.
  return state.periodsLatest ?? thisYear - 1;
}

function setupDimensionSelect() {
  const select = $("dim-select");
  select.innerHTML = "";
  const metric = metricOf(state.trendMetric);
  for (const d of metric?.dimensions ?? []) select.add(new Option(d.name ?? d.key, d.key));
  state.dimKey = metric?.dimensions.some((d) => d.key === state.dimKey) ? state.dimKey : metric?.dimensions[0]?.key ?? null;
  select.value = state.dimKey ?? "";
  select.disabled = !state.dimKey;
}

// ---- loading figures -------------------------------------------------------------------------------------------

const totalsParams = (extra) => ({
  year: state.year, orgUnit: state.orgUnit, campaign: state.campaign || null, ...extra,
});

async function refresh() {
  if (state.refreshing || !state.key) return;
  state.refreshing = true;
  try {
    $("notice").hidden = true;
    state.tick = {};
    await Promise.all([renderOverview(), renderTrend(), renderBreakdowns(), renderReport(), renderReporting({ fromRefresh: true })]);
    $("freshness").textContent = `已更新 ${new Date().toLocaleTimeString("zh-CN", { hour12: false })}`;
  } catch (error) {
    if (error.status === 401) return showSignin("密钥已失效，请重新输入。");
    $("notice").hidden = false;
    $("notice").textContent = error.status === 403 ? `无权查看：${error.message}` : `加载失败：${error.message}`;
  } finally {
    state.refreshing = false;
  }
}

function startRefresh() {
  stopRefresh();
  state.timer = setInterval(() => { if (document.visibilityState === "visible") refresh(); }, REFRESH_MS);
}

function stopRefresh() {
  if (state.timer) clearInterval(state.timer);
  state.timer = null;
}

async function renderOverview() {
  const scope = [orgName(state.orgUnit), state.campaign ? campaignName(state.campaign) : null].filter(Boolean).join(" · ");
  $("overview-scope").textContent = `${state.year}年 · ${scope}`;
  let figures;
  if (state.campaign) {
    // The report has no campaign filter: the cards show the exact totals of the campaign.
    const [now, before] = await Promise.all([
      api("/totals", totalsParams({ metric: state.metrics.map((m) => m.code) })),
      api("/totals", totalsParams({ year: state.year - 1, metric: state.metrics.map((m) => m.code) })),
    ]);
    figures = state.metrics.map((m) => {
      const row = now.rows.find((r) => r.metric === m.code);
      const prev = before.rows.find((r) => r.metric === m.code);
      return { metric: m.code, name: m.name, unit: m.unit, value: row?.value ?? 0, display: number(row?.value ?? 0),
        events: row?.events ?? 0, previous: prev?.value ?? 0, previousEvents: prev?.events ?? 0 };
    });
  } else {
    const [report, previous] = await Promise.all([
      currentReport(),
      previousYearReport(),
    ]);
    figures = report.figures.map((f) => {
      const before = previous.figures.find((p) => p.metric === f.metric);
      return { ...f, previous: before?.value ?? 0, previousEvents: before?.events ?? 0 };
    });
  }
  const cards = $("cards");
  const focused = document.activeElement?.dataset?.metric;
  cards.innerHTML = figures.map((f) => {
    const { deltaText, trend } = comparison(f);
    return `<button type="button" class="card" data-metric="${escapeHtml(f.metric)}"
        title="${escapeHtml(`${f.name}：精确值 ${number(f.value)}${f.unit}，共 ${number(f.events)} 条记录`)}"
        aria-label="${escapeHtml(`${f.name} ${f.display}${f.unit}，${deltaText}。查看明细`)}">
      <span class="name">${escapeHtml(f.name)}</span>
      <span class="figure" data-value="${f.value}">${escapeHtml(f.display)}<span class="unit">${escapeHtml(f.unit)}</span></span>
      <span class="delta ${trend}">${escapeHtml(deltaText)}</span>
    </button>`;
  }).join("");
  if (focused) cards.querySelector(`[data-metric="${CSS.escape(focused)}"]`)?.focus();
}

/** A card's line against last year: a rise from nothing is no rise, so a year without data says so, in neutral. */
function comparison(figure) {
  if (!figure.previousEvents) return { deltaText: "上年无数据", trend: "none" };
  const delta = figure.value - figure.previous;
  if (delta === 0) return { deltaText: "与上年持平", trend: "" };
  const pct = figure.previous ? ` (${delta > 0 ? "+" : ""}${((delta / figure.previous) * 100).toFixed(1)}%)` : "";
  return { deltaText: `较上年 ${delta > 0 ? "+" : ""}${number(delta)}${pct}`, trend: delta > 0 ? "up" : "down" };
}

/** This year's report, fetched once per refresh however many panels use it. */
function currentReport() {
  state.tick.report ??= api(`/reports/annual/${state.year}`, { orgUnit: state.orgUnit });
  return state.tick.report;
}

/** Last year's report changes rarely: fetched once a minute per year and unit, not on every refresh. */
async function previousYearReport() {
  const key = `${state.year - 1}|${state.orgUnit}`;
  const cached = state.previousReport;
  if (cached?.key === key && Date.now() - cached.at < 60_000) return cached.report;
  const report = await api(`/reports/annual/${state.year - 1}`, { orgUnit: state.orgUnit });
  state.previousReport = { key, at: Date.now(), report };
  return report;
}

/** ECharts (1 MB) loads beside the first requests, not before them: the cards and the report do not wait for it. */
const echartsLoaded = new Promise((resolve, reject) => {
  const script = document.createElement("script");
  script.src = "vendor/echarts/echarts.min.js";
  script.onload = () => resolve(window.echarts);
  script.onerror = () => reject(new Error("图表组件未能加载"));
  document.head.append(script);
});

async function chart(id) {
  const echarts = await echartsLoaded;
  if (!state.charts[id]) {
    state.charts[id] = echarts.init($(id), null, { renderer: "canvas" });
    state.charts[id].on("click", (e) => onChartClick(id, e));
    // A chart follows its box, whatever changes the box (the window, the grid reflowing, a panel growing).
    chartResizer.observe($(id));
  }
  return state.charts[id];
}

const chartResizer = new ResizeObserver((entries) => {
  for (const entry of entries) {
    const instance = Object.entries(state.charts).find(([id]) => $(id) === entry.target)?.[1];
    if (instance && entry.contentRect.width > 0) instance.resize();
  }
});

/** Room for category labels: long unit names wrap within it instead of being cut off. */
const labelWidth = (id) => Math.max(72, Math.min(200, Math.round(($(id).clientWidth || 320) * 0.38)));

const baseOption = {
  animation: false,
  textStyle: { fontFamily: getComputedStyle(document.documentElement).fontFamily },
  tooltip: { trigger: "axis" },
  grid: { left: 56, right: 16, top: 36, bottom: 40 },
  color: ["#b3261e", "#8a949e", "#0b57d0", "#1b7f3b", "#e8a317", "#6f42c1"],
};

async function renderTrend() {
  const metric = metricOf(state.trendMetric);
  if (!metric) return;
  const [now, before] = await Promise.all([
    api("/totals", totalsParams({ metric: metric.code, groupBy: "month" })),
    api("/totals", totalsParams({ year: state.year - 1, metric: metric.code, groupBy: "month" })),
  ]);
  const byMonth = (rows, year) => Array.from({ length: 12 }, (_, i) =>
    rows.find((r) => r.month === `${year}-${String(i + 1).padStart(2, "0")}`)?.value ?? 0);
  const current = byMonth(now.rows, state.year);
  const previous = byMonth(before.rows, state.year - 1);
  const months = Array.from({ length: 12 }, (_, i) => `${i + 1}月`);
  (await chart("trend-chart")).setOption({
    ...baseOption,
    legend: { top: 0 },
    xAxis: { type: "category", data: months },
    yAxis: { type: "value", name: metric.unit, nameTextStyle: { align: "left" } },
    series: [
      { name: `${state.year}年`, type: "bar", data: current },
      { name: `${state.year - 1}年`, type: "bar", data: previous },
    ],
  }, true);
  $("trend-table").innerHTML = `<caption>${escapeHtml(metric.name)}各月数值</caption><tr><th>月份</th><th>${state.year}年</th><th>${state.year - 1}年</th></tr>`
    + months.map((m, i) => `<tr><td>${m}</td><td>${current[i]}</td><td>${previous[i]}</td></tr>`).join("");
}

async function renderBreakdowns() {
  const metric = metricOf(state.trendMetric);
  if (!metric) return;
  const requests = [
    api("/totals", totalsParams({ metric: metric.code, groupBy: "orgUnit" })),
    api("/totals", totalsParams({ metric: metric.code, groupBy: "campaign" })),
    state.dimKey ? api("/totals", totalsParams({ metric: metric.code, groupBy: `dim.${state.dimKey}` })) : null,
  ];
  const [byOrg, byCampaign, byDim] = await Promise.all(requests);
  const bars = async (id, rows, label, keyOf) => {
    // A named metric with nothing recorded comes back as one zero row without group keys: nothing to draw.
    const sorted = rows.filter((r) => r.events > 0).sort((a, b) => b.value - a.value);
    // The panel is as tall as its bars need (one bar makes a short panel), not a fixed 18rem box.
    $(id).style.height = `${Math.max(9, 4.5 + 2.6 * sorted.length)}rem`;
    const instance = await chart(id);
    instance.resize();
    instance.setOption({
      ...baseOption,
      title: sorted.length ? { show: false } : { show: true, text: "暂无数据", left: "center", top: "middle",
        textStyle: { color: "#55606b", fontSize: 14, fontWeight: "normal" } },
      tooltip: { trigger: "item" },
      grid: { left: 8, right: 24, top: 8, bottom: 44, containLabel: true },
      xAxis: { type: "value", name: metric.unit, nameLocation: "middle", nameGap: 28 },
      yAxis: { type: "category", inverse: true, data: sorted.map((r) => label(keyOf(r))),
        axisLabel: { width: labelWidth(id), overflow: "break", lineHeight: 16 } },
      series: [{ type: "bar", barMaxWidth: 28, data: sorted.map((r) => ({ value: r.value, key: keyOf(r) ?? "" })) }],
    }, true);
  };
  $("dim-empty").hidden = !!state.dimKey;
  $("dim-chart").hidden = !state.dimKey;
  await Promise.all([
    bars("org-chart", byOrg.rows, orgName, (r) => r.orgUnit),
    bars("campaign-chart", byCampaign.rows, (c) => (c ? campaignName(c) : "未关联专项行动"), (r) => r.campaign ?? null),
    byDim ? bars("dim-chart", byDim.rows, (v) => (v ? dimValueName(metric.code, state.dimKey, v) : "未填写"), (r) => r[`dim.${state.dimKey}`] ?? null) : null,
  ]);
}

async function renderReport() {
  // The Markdown exactly as the server writes it, at the instant of a report with this digest, so the text, its
  // instant and the digest beside it are one report. A report at an instant is read whole on the server: it is asked
  // for again only when the counted events (the digest) or the sentences change, not on every refresh.
  const report = await currentReport();
  const key = [report.year, report.orgUnit, report.digest, ...report.figures.map((f) => f.sentence)].join("|");
  if (state.reportText?.key !== key) {
    const asOf = report.asOf ?? report.generatedAt;
    const response = await api(`/reports/annual/${report.year}`,
      { orgUnit: report.orgUnit, asOf, format: "markdown" }, "text/markdown");
    state.reportText = { key, asOf, markdown: await response.text() };
  }
  const { asOf, markdown } = state.reportText;
  // The server's footer ("数据截至 2026年12月2日 11:15（北京时间），校验摘要 …") is the page's one as-of line: the text
  // shows the report above the rule, and the line below it says the instant in the office's time, as the server wrote it.
  const [body, footer = ""] = markdown.split(/\n-{3,}\n/);
  $("report-text").innerHTML = markdownToHtml(body);
  $("report-text").dataset.markdown = markdown;
  $("report-asof").textContent = footer.match(/数据截至\s*(.+?)[，,]/)?.[1] ?? officeTime(asOf);
  $("report-asof").dateTime = asOf;
  $("report-digest").textContent = report.digest;
}

/** An instant in the office's time, as the server writes it (2026年12月2日 11:15（北京时间）). */
function officeTime(instant) {
  const parts = Object.fromEntries(new Intl.DateTimeFormat("zh-CN", {
    timeZone: "Asia/Shanghai", year: "numeric", month: "numeric", day: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  }).formatToParts(new Date(instant)).map((p) => [p.type, p.value]));
  return `${parts.year}年${parts.month}月${parts.day}日 ${parts.hour}:${parts.minute}（北京时间）`;
}

/** Just enough Markdown for the report: headings, paragraphs, list items, rules, emphasis and inline code. */
function markdownToHtml(markdown) {
  return markdown.split(/\r?\n/).filter((l) => l.trim()).map((line) => {
    if (/^\s*([-*_])\1{2,}\s*$/.test(line)) return "<hr>";
    const text = escapeHtml(line.replace(/^#+\s*|^[-*]\s+/, ""))
      .replace(/\*\*(.+?)\*\*/g, "<strong>$1</strong>")
      .replace(/`([^`]+)`/g, "<code>$1</code>");
    return /^#/.test(line) ? `<h3>${text}</h3>` : `<p>${text}</p>`;
  }).join("");
}

// ---- drill-down ------------------------------------------------------------------------------------------------

function onChartClick(id, event) {
  const metric = state.trendMetric;
  const yearRange = { from: `${state.year}-01-01`, to: `${state.year}-12-31` };
  if (id === "trend-chart") {
    const year = event.seriesIndex === 0 ? state.year : state.year - 1;
    openDrill({ metric, ...monthRange(year, event.dataIndex + 1) }, `${year}年${event.dataIndex + 1}月`);
  } else if (id === "org-chart") {
    openDrill({ metric, ...yearRange, orgUnit: event.data.key, exactOrgUnit: true }, orgName(event.data.key));
  } else if (id === "campaign-chart" && event.data.key) {
    openDrill({ metric, ...yearRange, campaign: event.data.key }, campaignName(event.data.key));
  } else if (id === "dim-chart" && event.data.key) {
    openDrill({ metric, ...yearRange, dimension: [state.dimKey, event.data.key] },
      `${dimName(metric, state.dimKey)} = ${dimValueName(metric, state.dimKey, event.data.key)}`);
  } else {
    openDrill({ metric, ...yearRange }, "");
  }
}

function openDrill(filter, label) {
  const metric = metricOf(filter.metric);
  state.drill = {
    filter: { orgUnit: state.orgUnit, campaign: state.campaign || null, ...filter },
    cursor: null,
    rows: 0,
    sum: 0,
    counted: 0,
  };
  $("drill-title").textContent = `${metric?.name ?? filter.metric} · 明细`;
  $("drill-scope").textContent = [`${filter.from} 至 ${filter.to}`, orgName(state.drill.filter.orgUnit), label]
    .filter(Boolean).join(" · ");
  $("drill-table").tBodies[0].innerHTML = "";
  showDrillTotal();
  const dialog = $("drill");
  if (!dialog.open) dialog.showModal();
  loadDrillPage();
}

/** The drill-down's filters as the server takes them: the table and its export ask for exactly the same events. */
function drillQuery() {
  const f = state.drill.filter;
  const query = {
    metric: f.metric, orgUnit: f.orgUnit, campaign: f.campaign, from: f.from, to: f.to,
    status: $("drill-voided").checked ? "all" : "active",
  };
  if (f.exactOrgUnit) query.includeDescendants = "false";
  if (f.dimension) query[`dim.${f.dimension[0]}`] = f.dimension[1];
  return query;
}

async function loadDrillPage() {
  const drill = state.drill;
  $("drill-status").textContent = "加载中…";
  try {
    const page = await api("/events", { ...drillQuery(), limit: 200, cursor: drill.cursor });
    if (state.drill !== drill) return;
    const rows = page.items;
    $("drill-table").tBodies[0].insertAdjacentHTML("beforeend", rows.map((e) => `
      <tr class="${e.status === "voided" ? "voided" : ""}">
        <td>${escapeHtml(e.occurredOn)}</td><td>${escapeHtml(metricOf(e.metric)?.name ?? e.metric)}</td>
        <td class="num">${number(e.quantity)}</td><td>${escapeHtml(orgName(e.orgUnit))}</td>
        <td>${escapeHtml(e.campaign ? campaignName(e.campaign) : "")}</td>
        <td>${escapeHtml(Object.entries(e.dimensions).map(([k, v]) => `${dimName(e.metric, k)}=${dimValueName(e.metric, k, v)}`).join(", "))}</td>
        <td>${escapeHtml(e.source)}</td>
        <td>${e.status === "voided" ? `已作废${e.voidReason ? `（${escapeHtml(e.voidReason)}）` : ""}` : "有效"}</td>
        <td>${escapeHtml(e.note ?? "")}</td>
      </tr>`).join(""));
    drill.rows += rows.length;
    for (const e of rows.filter((r) => r.status === "active")) {
      drill.sum += e.quantity;
      drill.counted += 1;
    }
    drill.cursor = page.nextCursor;
    showDrillTotal();
    $("drill-more").hidden = !page.nextCursor;
    $("drill-status").textContent = `已显示 ${number(drill.rows)} 条${page.nextCursor ? "，还有更多" : ""}`;
  } catch (error) {
    if (error.status === 401) return showSignin("密钥已失效，请重新输入。");
    $("drill-status").textContent = `无法加载明细：${error.message}`;
  }
}

/**
 * The table's total row: the sum of the active events listed, which is the figure on the card (or bar) the table was
 * opened from. Until every page is loaded, it says the sum is of the rows shown so far.
 */
function showDrillTotal() {
  const drill = state.drill;
  $("drill-total").textContent = number(drill.sum);
  $("drill-total").dataset.value = String(drill.sum);
  $("drill-total-note").textContent = drill.cursor
    ? `（已显示的 ${number(drill.counted)} 条有效记录，加载全部后与图表一致）`
    : `（${number(drill.counted)} 条有效记录${$("drill-voided").checked ? "，不含已作废" : ""}）`;
}

async function exportDrill(format) {
  const params = { ...drillQuery(), format };
  if (format === "csv") params.bom = "true";
  $("drill-status").textContent = "正在导出…";
  try {
    const response = await api("/events/export", params, "*/*");
    const blob = await response.blob();
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = `tally-${state.drill.filter.metric}-${state.drill.filter.from}.${format}`;
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
    $("drill-status").textContent = "导出完成。";
  } catch (error) {
    $("drill-status").textContent = `导出失败：${error.message}`;
  }
}

// ---- reporting panel -------------------------------------------------------------------------------------------
// Self-contained: its own state, requests and wiring (reporting-* elements); refresh() only calls renderReporting().

const reporting = { plans: [], loaded: false };
const REPORTING_STATES = { missing: "未报送", reported: "已填报", submitted: "待审核", approved: "已通过", returned: "已退回" };

/** The period a plan's units are most likely reporting now: the one before today's. */
function reportingDefaultPeriod(frequency, today = new Date()) {
  const y = today.getFullYear(), m = today.getMonth() + 1;
  if (frequency === "year") return String(y - 1);
  if (frequency === "quarter") {
    const q = Math.floor((m - 1) / 3) + 1;
    return q === 1 ? `${y - 1}-Q4` : `${y}-Q${q - 1}`;
  }
  return m === 1 ? `${y - 1}-12` : `${y}-${String(m - 1).padStart(2, "0")}`;
}

async function setupReporting() {
  try {
    reporting.plans = await listAll("/reporting/plans");
  } catch {
    reporting.plans = [];
  }
  $("reporting").hidden = reporting.plans.length === 0;
  $("reporting-plan").innerHTML = reporting.plans
    .map((p) => `<option value="${escapeHtml(p.code)}">${escapeHtml(p.name)}</option>`).join("");
  const plan = reporting.plans[0];
  if (plan && !$("reporting-period").value) $("reporting-period").value = reportingDefaultPeriod(plan.frequency);
  reporting.loaded = true;
}

async function renderReporting({ fromRefresh = false } = {}) {
  if (!reporting.loaded) await setupReporting();
  // The timed refresh leaves the table alone while someone is writing a return reason in it.
  const typing = [...document.querySelectorAll("[data-reason-for]")].some((i) => i.value || i === document.activeElement);
  if (fromRefresh && typing) return;
  const plan = $("reporting-plan").value;
  const period = $("reporting-period").value.trim();
  if (!plan || !period) return;
  let status;
  try {
    status = await api("/reporting/status", { plan, period });
  } catch (error) {
    if (error.status === 401) throw error;
    $("reporting-notice").hidden = false;
    $("reporting-notice").textContent = `报送情况加载失败：${error.message}`;
    return;
  }
  const s = status.summary;
  const percent = (r) => `${(r * 100).toFixed(1)}%`;
  $("reporting-summary").textContent = `${status.period} 期，截止 ${status.dueOn}：应报 ${s.expected}，已报 ${s.reported}（${percent(s.rate)}），`
    + `按时 ${s.onTime}（${percent(s.onTimeRate)}），已提交 ${s.submitted}，已通过 ${s.approved}`;
  $("reporting-table").tBodies[0].innerHTML = status.units.map((u) => {
    const onTime = u.onTime === true ? "按时" : u.onTime === false ? "逾期" : "未到期";
    const last = u.lastRecordedAt ? new Date(u.lastRecordedAt).toLocaleString("zh-CN", { hour12: false }) : "—";
    const decide = u.state === "submitted"
      ? `<button type="button" data-approve="${escapeHtml(u.submissionId)}">通过</button>
         <input type="text" size="12" placeholder="退回理由" data-reason-for="${escapeHtml(u.submissionId)}" aria-label="退回理由">
         <button type="button" data-return="${escapeHtml(u.submissionId)}">退回</button>`
      : u.state === "returned" ? `退回理由：${escapeHtml(u.returnReason)}` : "";
    return `<tr data-org-unit="${escapeHtml(u.orgUnit)}" class="reporting-${u.state}${u.onTime === false ? " reporting-late" : ""}">
      <td>${escapeHtml(u.name)}</td><td class="reporting-state">${REPORTING_STATES[u.state] ?? u.state}</td>
      <td>${u.metricsReported}/${u.metricsExpected}</td><td class="reporting-ontime">${onTime}</td><td>${last}</td><td>${decide}</td></tr>`;
  }).join("");
}

async function decideSubmission(id, action, reason) {
  const response = await fetch(`${API}/reporting/submissions/${encodeURIComponent(id)}/${action}`, {
    method: "POST",
    headers: { Authorization: `Bearer ${state.key}`, "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(action === "return" ? { reason } : {}),
  });
  $("reporting-notice").hidden = response.ok;
  if (!response.ok) {
    let problem = null;
    try { problem = await response.json(); } catch { /* not a problem body */ }
    $("reporting-notice").textContent = response.status === 403
      ? `无权审核：${problem?.detail ?? ""}` : `操作失败：${problem?.detail ?? response.status}`;
  }
  await renderReporting();
}

function wireReporting() {
  $("reporting-load").addEventListener("click", () => { $("reporting-notice").hidden = true; renderReporting(); });
  $("reporting-plan").addEventListener("change", () => {
    const plan = reporting.plans.find((p) => p.code === $("reporting-plan").value);
    if (plan) $("reporting-period").value = reportingDefaultPeriod(plan.frequency);
    renderReporting();
  });
  $("reporting-table").addEventListener("click", (e) => {
    const approve = e.target.closest("[data-approve]");
    if (approve) return decideSubmission(approve.dataset.approve, "approve");
    const back = e.target.closest("[data-return]");
    if (!back) return;
    const input = $("reporting-table").querySelector(`[data-reason-for="${CSS.escape(back.dataset.return)}"]`);
    const reason = input?.value.trim();
    if (!reason) {
      $("reporting-notice").hidden = false;
      $("reporting-notice").textContent = "请填写退回理由。";
      input?.focus();
      return;
    }
    return decideSubmission(back.dataset.return, "return", reason);
  });
}

// ---- wiring ----------------------------------------------------------------------------------------------------

function wire() {
  $("signin-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const key = $("key-input").value.trim();
    if (key) signIn(key);
  });
  $("signout").addEventListener("click", signOut);
  $("year-select").addEventListener("change", (e) => { state.year = Number(e.target.value); refresh(); });
  $("org-select").addEventListener("change", (e) => { state.orgUnit = e.target.value; state.orgUnitChosen = true; refresh(); });
  $("campaign-select").addEventListener("change", (e) => { state.campaign = e.target.value; refresh(); });
  $("trend-metric").addEventListener("change", (e) => {
    state.trendMetric = e.target.value;
    setupDimensionSelect();
    refresh();
  });
  $("dim-select").addEventListener("change", (e) => { state.dimKey = e.target.value; refresh(); });
  $("cards").addEventListener("click", (e) => {
    const card = e.target.closest(".card");
    if (card) openDrill({ metric: card.dataset.metric, from: `${state.year}-01-01`, to: `${state.year}-12-31` }, "");
  });
  $("drill-voided").addEventListener("change", () => {
    state.drill.cursor = null;
    state.drill.rows = 0;
    state.drill.sum = 0;
    state.drill.counted = 0;
    $("drill-table").tBodies[0].innerHTML = "";
    loadDrillPage();
  });
  $("drill-more").addEventListener("click", loadDrillPage);
  for (const button of document.querySelectorAll("[data-export]"))
    button.addEventListener("click", () => exportDrill(button.dataset.export));
  $("copy-report").addEventListener("click", async () => {
    const text = $("report-text").dataset.markdown ?? $("report-text").innerText;
    try {
      await navigator.clipboard.writeText(text);
      $("copy-report").textContent = "已复制";
    } catch {
      const range = document.createRange();
      range.selectNodeContents($("report-text"));
      getSelection().removeAllRanges();
      getSelection().addRange(range);
      $("copy-report").textContent = "已选中，按 Ctrl+C 复制";
    }
    setTimeout(() => { $("copy-report").textContent = "复制报告文字"; }, 2000);
  });
  window.addEventListener("focus", () => refresh());
  window.addEventListener("resize", () => { for (const c of Object.values(state.charts)) c.resize(); });
}

async function start() {
  wire();
  wireReporting();
  if (state.key) {
    await signIn(state.key);
  } else {
    showSignin();
  }
}

start();
