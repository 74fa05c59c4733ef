// The HTML report's findings table: filters over the JSON data islands, inlined into the page
// (its hash is in the page's CSP). Text reaches the page only through textContent, never
// innerHTML, so a hostile resource name or message is shown as text and never parsed.
"use strict";
(() => {
  // Rows are added a page at a time: a browser stays responsive with a few hundred rows of
  // details, not with the 100,000 findings a large estate can have.
  const PAGE = 500;
  const ATTENTION = new Set(["fail", "error", "unknown", "waived"]);
  const LABELS = {
    fail: "fail", error: "error", unknown: "unknown", waived: "waived", pass: "pass",
    not_applicable: "n/a",
  };
  const byId = (id) => document.getElementById(id);
  const rules = JSON.parse(byId("rules-data").textContent);
  const findings = JSON.parse(byId("findings").textContent);
  const controls = {
    verdict: byId("f-verdict"), severity: byId("f-severity"), rule: byId("f-rule"),
    subscription: byId("f-subscription"), search: byId("f-search"),
  };
  const body = byId("findings-body");
  const shown = byId("findings-shown");
  const more = byId("findings-more");
  // What the free-text search looks through, lower-cased once.
  const haystacks = findings.map((f) => {
    const rule = rules[f.rule];
    return [rule.id, rule.title, f.resource, f.subscription, f.location || "", f.message,
      ...f.evidence.map((e) => e.text)].join("\n").toLowerCase();
  });
  let matches = [];
  let rendered = 0;

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function link(href, text) {
    // Only web links: a custom rule's reference such as javascript:... stays text.
    if (!/^https?:\/\//i.test(href)) return el("span", "", text);
    const a = el("a", "", text);
    a.href = href;
    a.rel = "noopener noreferrer";
    return a;
  }

  function section(parent, title) {
    parent.appendChild(el("h4", "", title));
  }

  function details(f, rule) {
    const box = el("details");
    box.appendChild(el("summary", "", "Evidence and remediation"));
    section(box, "Evidence");
    if (f.evidence.length) {
      const list = el("ul", "flat");
      for (const e of f.evidence) list.appendChild(el("li", "ev-" + e.outcome, e.text));
      box.appendChild(list);
    } else {
      box.appendChild(el("p", "muted", "No comparison was made (see the message)."));
    }
    if (f.waiver) {
      section(box, "Waiver");
      const dl = el("dl");
      for (const [term, value] of [["Justification", f.waiver.justification],
        ["Owner", f.waiver.owner], ["Expires", f.waiver.expires], ["Declared at", f.waiver.source]]) {
        dl.appendChild(el("dt", "", term));
        dl.appendChild(el("dd", "", value));
      }
      box.appendChild(dl);
    }
    section(box, "Remediation");
    box.appendChild(el("p", "prose", rule.remediation.text));
    if (rule.remediation.portal) {
      section(box, "In the Azure portal");
      box.appendChild(el("p", "prose", rule.remediation.portal));
    }
    if (rule.remediation.cli) {
      section(box, "With the Azure CLI");
      const pre = el("pre");
      pre.appendChild(el("code", "", rule.remediation.cli));
      box.appendChild(pre);
    }
    if (rule.references.length) {
      section(box, "References");
      const list = el("ul", "flat");
      for (const ref of rule.references) list.appendChild(el("li")).appendChild(link(ref, ref));
      box.appendChild(list);
    }
    return box;
  }

  function row(f) {
    const rule = rules[f.rule];
    const tr = el("tr", "v-" + f.verdict);
    const verdict = tr.appendChild(el("td"));
    verdict.appendChild(el("span", "badge", LABELS[f.verdict] || f.verdict));
    if (f.baseline) {
      verdict.appendChild(document.createTextNode(" "));
      verdict.appendChild(el("span", "badge plain", "in baseline"));
    }
    tr.appendChild(el("td", "", rule.severity));
    const ruleCell = tr.appendChild(el("td", "rule"));
    const anchor = ruleCell.appendChild(el("a", "", rule.id));
    anchor.href = "#rule-" + rule.id;
    ruleCell.appendChild(el("div", "muted", rule.title));
    const resource = tr.appendChild(el("td", "resource"));
    resource.appendChild(el("div", "name", f.name));
    resource.appendChild(el("div", "mono muted", f.resource));
    if (f.location) resource.appendChild(el("div", "mono", f.location));
    tr.appendChild(el("td", "mono subscription", f.subscription));
    const detail = tr.appendChild(el("td"));
    detail.appendChild(el("div", "", f.message));
    detail.appendChild(details(f, rule));
    return tr;
  }

  function renderMore() {
    const end = Math.min(matches.length, rendered + PAGE);
    const batch = document.createDocumentFragment();
    for (; rendered < end; rendered += 1) batch.appendChild(row(findings[matches[rendered]]));
    body.appendChild(batch);
    shown.textContent = `Showing ${rendered} of ${matches.length} matching findings ` +
      `(${findings.length} in this report).`;
    more.hidden = rendered >= matches.length;
    more.textContent = `Show ${Math.min(PAGE, matches.length - rendered)} more`;
  }

  let applied = null;

  function apply() {
    const verdict = controls.verdict.value;
    const severity = controls.severity.value;
    const ruleId = controls.rule.value;
    const subscription = controls.subscription.value;
    const terms = controls.search.value.toLowerCase().split(/\s+/).filter(Boolean);
    // A field fires both input and change (the search box's change comes when it loses focus,
    // on the click that opens a row's details): redrawing then would swallow that click.
    const state = JSON.stringify([verdict, severity, ruleId, subscription, terms]);
    if (state === applied) return;
    applied = state;
    matches = [];
    findings.forEach((f, i) => {
      const rule = rules[f.rule];
      if (verdict === "attention" ? !ATTENTION.has(f.verdict) : verdict !== "all" && f.verdict !== verdict) return;
      if (severity && rule.severity !== severity) return;
      if (ruleId && rule.id !== ruleId) return;
      if (subscription && f.subscription !== subscription) return;
      if (!terms.every((t) => haystacks[i].includes(t))) return;
      matches.push(i);
    });
    body.replaceChildren();
    rendered = 0;
    renderMore();
  }

  const form = byId("filters");
  form.addEventListener("input", apply);
  form.addEventListener("change", apply);
  form.addEventListener("submit", (event) => event.preventDefault());
  // A form's reset event comes before the fields change back: filter once they have.
  form.addEventListener("reset", () => setTimeout(apply, 0));
  more.addEventListener("click", renderMore);
  apply();
})();
