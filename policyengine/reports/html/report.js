// The HTML report's findings table: filters over the JSON data islands, inlined into the page
// (its hash is in the page's CSP). Text reaches the page only through textContent, never
// innerHTML, so a hostile resource name or message is shown as text and never parsed.
// Each finding is a table row; below 1000 px the style sheet lays each row out as a card.
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
    const a = el("a", "url", text);
    a.href = href;
    a.rel = "noopener noreferrer";
    return a;
  }

  // A command, its words kept whole where they fit (a line that breaks after "--" reads as
  // two options); a long word (a URL) may still break anywhere. Copying gives the same text.
  function command(text) {
    const code = el("code", "command");
    text.split(/( +)/).forEach((part, i) => {
      code.appendChild(i % 2 || part.length > 30 ? document.createTextNode(part) : el("span", "word", part));
    });
    return code;
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
    if (f.fix) {
      // The rule's command with this resource's subscription, group and server filled in.
      section(box, "With the Azure CLI");
      box.appendChild(el("pre")).appendChild(command(f.fix));
    }
    if (f.edit) {
      // A template's or plan's fix: where in the file, what to do, and what to write there.
      section(box, "In the template or plan");
      box.appendChild(el("pre")).appendChild(el("code", "", f.edit));
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
    const tr = el("tr", "finding v-" + f.verdict);
    const status = tr.appendChild(el("td", "status"));
    status.appendChild(el("span", "badge", LABELS[f.verdict] || f.verdict));
    status.appendChild(el("span", "severity sev-" + rule.severity, rule.severity));
    if (f.baseline) status.appendChild(el("span", "badge plain", "in baseline"));
    const ruleCell = tr.appendChild(el("td", "rule"));
    const anchor = ruleCell.appendChild(el("a", "rule-id", rule.id));
    anchor.href = "#rule-" + rule.id;
    ruleCell.appendChild(el("span", "rule-title", rule.title));
    const resource = tr.appendChild(el("td", "resource"));
    resource.appendChild(el("div", "name", f.name));
    resource.appendChild(el("div", "mono muted id", f.resource));
    if (f.location) resource.appendChild(el("div", "mono where", f.location));
    const detail = tr.appendChild(el("td", "detail"));
    detail.appendChild(el("p", "message", f.message));
    if (f.fix && f.verdict === "fail") {
      const fix = detail.appendChild(el("div", "fix"));
      fix.appendChild(el("span", "fix-label", "Fix"));
      fix.appendChild(command(f.fix));
    } else if (f.edit) {
      const fix = detail.appendChild(el("div", "fix"));
      fix.appendChild(el("span", "fix-label", "Fix"));
      fix.appendChild(el("code", "command", f.edit.split("\n")[0]));
    }
    detail.appendChild(details(f, rule));
    return tr;
  }

  // What the filters select, in words, for the line above the table (and so for a printout).
  function filtersText() {
    const parts = [];
    for (const [name, control] of Object.entries(controls)) {
      if (name === "search") {
        if (control.value.trim()) parts.push(`search "${control.value.trim()}"`);
      } else if (control.value) {
        parts.push(`${name} ${control.selectedOptions[0].textContent}`);
      }
    }
    return parts.join("; ");
  }

  function renderMore(all) {
    const end = all ? matches.length : Math.min(matches.length, rendered + PAGE);
    const batch = document.createDocumentFragment();
    for (; rendered < end; rendered += 1) batch.appendChild(row(findings[matches[rendered]]));
    body.appendChild(batch);
    shown.textContent = `Showing ${rendered} of ${matches.length} matching findings ` +
      `(${findings.length} in this report). Filters: ${filtersText()}.`;
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
  more.addEventListener("click", () => renderMore(false));
  // A printout has no "Show more" button: before printing, every matching finding is drawn.
  // beforeprint comes with the print dialog; the media query's change also comes when a
  // tool emulates print media (a headless PDF), which fires no beforeprint.
  const printAll = () => { if (rendered < matches.length) renderMore(true); };
  window.addEventListener("beforeprint", printAll);
  window.matchMedia("print").addEventListener("change", (event) => { if (event.matches) printAll(); });
  apply();
})();
