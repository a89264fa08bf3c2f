// The invwh inspector's page. No framework and no build step: what the server sends is put in the
// page as text only (textContent, text nodes, element values), never parsed as HTML, so a body,
// a header or a path that holds markup shows as the characters it is.
"use strict";

(() => {
  const TOKEN = document.querySelector('meta[name="invwh-token"]').getAttribute("content");
  const HOP_BY_HOP = new Set([
    "host", "content-length", "transfer-encoding", "connection", "keep-alive", "te", "trailer", "upgrade",
  ]);

  const state = {
    deliveries: [], // each the recording's line object, by index
    rows: [], // the table row of each
    checked: new Set(), // indexes checked for a diff, two at most
    selected: null, // the index shown in the detail
    settings: { secret_known: false },
  };

  const $ = (id) => document.getElementById(id);

  // An element with text children; every string child becomes a text node.
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key === "value") node.value = value;
      else if (key === "checked") node.checked = true;
      else if (key === "disabled") node.disabled = true;
      else if (key === "onclick") node.addEventListener("click", value);
      else if (key === "onchange") node.addEventListener("change", value);
      else node.setAttribute(key, String(value));
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      node.append(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  // --- the list ------------------------------------------------------------------------------

  function verdictOf(delivery) {
    const verdict = delivery.verdict;
    if (!verdict || typeof verdict !== "object") return "none";
    return verdict.valid ? "valid" : "invalid";
  }

  function eventTypeOf(delivery) {
    const verdict = delivery.verdict;
    return verdict && typeof verdict.event_type === "string" ? verdict.event_type : "";
  }

  function reasonOf(delivery) {
    const verdict = delivery.verdict;
    if (verdict && typeof verdict.reason === "string") return verdict.reason;
    if (delivery.body_read === false) return "body not read";
    return "";
  }

  function timeOf(delivery) {
    const at = typeof delivery.received_at === "string" ? delivery.received_at : "";
    const match = /T(\d\d:\d\d:\d\d(?:\.\d+)?)/.exec(at);
    return match ? match[1] : at;
  }

  function addOption(select, value, label) {
    for (const option of select.options) if (option.value === value) return;
    const options = Array.from(select.options).slice(1);
    const before = options.find((option) => option.value > value) || null;
    select.insertBefore(el("option", { value, text: label }), before);
  }

  function matchesFilters(delivery) {
    const verdict = $("filter-verdict").value;
    const type = $("filter-type").value;
    const status = $("filter-status").value;
    if (verdict && verdictOf(delivery) !== verdict) return false;
    if (type && (eventTypeOf(delivery) || "(none)") !== type) return false;
    if (status && String(delivery.status) !== status) return false;
    return true;
  }

  function shownIndexes() {
    return state.deliveries.map((_, index) => index).filter((index) => matchesFilters(state.deliveries[index]));
  }

  function applyFilters() {
    let shown = 0;
    state.deliveries.forEach((delivery, index) => {
      const visible = matchesFilters(delivery);
      state.rows[index].hidden = !visible;
      if (visible) shown += 1;
    });
    const total = state.deliveries.length;
    $("count").textContent = shown === total ? `${total} deliveries` : `${shown} of ${total} deliveries shown`;
    $("empty").hidden = total > 0;
  }

  // Behind listen --forward-to: what the app answered, and whether it agrees with the verdict.
  function appSummary(forward) {
    if (!forward || typeof forward !== "object") return "";
    if (forward.blocked) return "not forwarded";
    if (typeof forward.error === "string") return "unreachable";
    return forward.agrees === false ? `${forward.status} (disagrees)` : String(forward.status ?? "");
  }

  function appCell(forward) {
    const disagrees = forward && typeof forward === "object" && forward.agrees === false;
    const title = forward && typeof forward === "object" ? String(forward.why || forward.error || "") : "";
    return el("td", { class: disagrees ? "app invalid" : "app", text: appSummary(forward), title });
  }

  function renderForward(forward) {
    if (!forward || typeof forward !== "object") return null;
    const box = el("div", { class: "forward" });
    box.append(el("h3", { text: "The app's answer" }));
    if (forward.agrees === false) {
      box.append(el("p", { class: "invalid disagreement", text: `Disagreement: ${String(forward.why || "")}` }));
    }
    if (forward.blocked) {
      box.append(el("p", { text: "Not forwarded: --block-invalid answered it." }));
    } else if (typeof forward.error === "string") {
      box.append(el("p", { class: "invalid", text: `The app could not be reached: ${forward.error}` }));
    } else {
      const ms = typeof forward.seconds === "number" ? ` in ${Math.round(forward.seconds * 1000)} ms` : "";
      box.append(el("p", { text: `${String(forward.status ?? "")}${ms}` }));
      box.append(el("table", { class: "headers" }, el("tbody", {}, Object.entries(forward.headers || {}).map(
        ([name, value]) => el("tr", {}, el("td", { text: name }), el("td", { text: String(value) })),
      ))));
      const body = forward.body_encoding === "base64" ? `(base64) ${forward.body}` : String(forward.body ?? "");
      box.append(el("pre", { class: "answer-body", text: body }));
    }
    return box;
  }

  function addDelivery(index, delivery) {
    if (state.deliveries[index] !== undefined) return; // a resumed stream sends nothing twice, but be sure
    state.deliveries[index] = delivery;
    const verdict = verdictOf(delivery);
    const status = delivery.status === undefined || delivery.status === null ? "" : String(delivery.status);
    const box = el("input", {
      type: "checkbox",
      title: "Check two deliveries to diff them",
      "aria-label": `check delivery ${index + 1} for a diff`,
    });
    box.addEventListener("click", (event) => event.stopPropagation());
    box.addEventListener("change", () => toggleChecked(index, box));
    const row = el(
      "tr",
      { class: "new", "data-index": index },
      el("td", {}, box),
      el("td", { text: String(index + 1) }),
      el("td", { text: timeOf(delivery), title: String(delivery.received_at || "") }),
      el("td", { class: `status status-${status.charAt(0)}`, text: status }),
      el("td", { text: String(delivery.method || "") }),
      el("td", { class: "path", text: String(delivery.path || ""), title: String(delivery.path || "") }),
      el("td", { class: "type", text: eventTypeOf(delivery) }),
      el("td", {
        class: `verdict ${verdict === "none" ? "unjudged" : verdict}`,
        text: verdict === "none" ? "not judged" : verdict,
      }),
      el("td", { class: "reason", text: reasonOf(delivery), title: reasonOf(delivery) }),
      appCell(delivery.forward),
    );
    row.addEventListener("click", () => select(index));
    state.rows[index] = row;
    $("rows").append(row);
    addOption($("filter-type"), eventTypeOf(delivery) || "(none)", eventTypeOf(delivery) || "(none)");
    if (status) addOption($("filter-status"), status, status);
    applyFilters();
  }

  function toggleChecked(index, box) {
    if (box.checked) {
      state.checked.add(index);
      while (state.checked.size > 2) {
        const oldest = state.checked.values().next().value;
        state.checked.delete(oldest);
        state.rows[oldest].querySelector("input").checked = false;
      }
    } else {
      state.checked.delete(index);
    }
    $("diff-button").disabled = state.checked.size !== 2;
  }

  function notice(text) {
    $("notices").append(el("li", { text }));
  }

  // --- one delivery --------------------------------------------------------------------------

  async function getJSON(url) {
    const response = await fetch(url, { headers: { Accept: "application/json" } });
    const data = await response.json();
    if (!response.ok) throw new Error(data.error || `${response.status}`);
    return data;
  }

  async function post(url, data) {
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Invwh-Token": TOKEN },
      body: JSON.stringify(data),
    });
    const answer = await response.json();
    if (!response.ok) throw new Error(answer.error || `${response.status}`);
    return answer;
  }

  async function select(index) {
    state.selected = index;
    state.rows.forEach((row, i) => row && row.classList.toggle("selected", i === index));
    const panel = $("detail");
    panel.hidden = false;
    document.querySelector("main").classList.add("with-detail");
    clear(panel);
    panel.append(el("p", { class: "muted", text: "Loading…" }));
    try {
      const detail = await getJSON(`/api/deliveries/${index}`);
      if (state.selected === index) renderDetail(panel, state.deliveries[index], detail);
    } catch (error) {
      clear(panel);
      panel.append(el("p", { class: "error", text: `Could not load the delivery: ${error.message}` }));
    }
  }

  function verdictText(verdict) {
    if (!verdict) return "not judged (another path or method, or a body refused)";
    const type = verdict.event_type ? ` (${verdict.event_type})` : "";
    return `${verdict.valid ? "valid" : "invalid"}: ${verdict.reason}${type}`;
  }

  function renderJudgement(judgement) {
    const box = el("div", { class: "judgement" });
    box.append(el("p", {}, "Recorded verdict: ", el("span", {
      class: judgement.recorded ? (judgement.recorded.valid ? "valid" : "invalid") : "unjudged",
      text: verdictText(judgement.recorded),
    })));
    if (judgement.judged) {
      const judged = judgement.judged;
      box.append(el("p", {}, "Judged again with the given secret: ", el("span", {
        class: judged.valid ? "valid" : "invalid",
        text: verdictText(judged),
      })));
      if (!judged.valid) box.append(el("p", { class: "message", text: judged.message }));
      if (judged.hints && judged.hints.length) {
        box.append(el("ul", { class: "hints" }, judged.hints.map((hint) => el("li", { text: `likely cause: ${hint}` }))));
      }
    } else if (judgement.error) {
      box.append(el("p", { class: "error", text: `Could not judge it again: ${judgement.error}` }));
    } else if (!judgement.secret_known) {
      box.append(el("p", {
        class: "muted",
        text: "No secret given, so this is the verdict listen recorded. Start invwh inspect with " +
          "--secret-file PATH (or INVWH_SECRET) to see the likely cause of a failed signature.",
      }));
    }
    return box;
  }

  function renderTokens(tokens) {
    const pre = el("pre", { class: "raw" });
    for (const [kind, label, title] of tokens) {
      if (kind === "text") {
        pre.append(document.createTextNode(label));
      } else {
        pre.append(el("span", { class: kind === "byte" ? "byte" : "mark", title, text: label }));
        if (kind === "newline") pre.append(document.createTextNode("\n"));
      }
    }
    return pre;
  }

  // The fields of a line this page does not lay out itself (a newer listen's, such as the app's
  // answer of a forwarding proxy), shown as JSON text rather than left out.
  const KNOWN_FIELDS = new Set([
    "received_at", "received_at_unix", "method", "path", "headers", "body", "body_encoding", "verdict",
    "status", "body_read", "forward",
  ]);

  function renderOtherFields(delivery) {
    const others = Object.keys(delivery).filter((key) => !KNOWN_FIELDS.has(key));
    if (!others.length) return null;
    return el("div", { class: "other-fields" }, others.map((key) => [
      el("h3", { text: key }),
      el("pre", { text: JSON.stringify(delivery[key], null, 2) }),
    ]));
  }

  function renderDetail(panel, delivery, detail) {
    clear(panel);
    const body = detail.body;
    panel.append(
      el("h2", { text: `Delivery ${detail.index + 1} (line ${detail.line} of the recording)` }),
      el("dl", { class: "facts" },
        el("dt", { text: "received" }), el("dd", { text: String(delivery.received_at || "") }),
        el("dt", { text: "request" }), el("dd", { text: `${delivery.method} ${delivery.path}` }),
        el("dt", { text: "answered" }), el("dd", { text: String(delivery.status ?? "") }),
      ),
      el("h3", { text: "Verdict" }),
      renderJudgement(detail.judgement),
      renderForward(delivery.forward),
      renderOtherFields(delivery),
      el("h3", { text: "Actions" }),
      renderActions(detail, delivery),
      el("h3", { text: "Headers" }),
      el("table", { class: "headers" }, el("tbody", {}, Object.entries(delivery.headers || {}).map(
        ([name, value]) => el("tr", {}, el("td", { text: name }), el("td", { text: value })),
      ))),
      el("h3", { text: "Body, raw" }),
      el("p", { class: "muted facts-line", text: body.facts.join(" · ") }),
      renderTokens(body.tokens),
      el("h3", { text: "Body as JSON" }),
      body.pretty === null ? el("p", { class: "muted", text: body.not_json }) : el("pre", { class: "pretty", text: body.pretty }),
    );
  }

  // --- actions ------------------------------------------------------------------------------

  function replayURL() {
    return $("replay-url").value.trim();
  }

  function renderActions(detail, delivery) {
    const secret = state.settings.secret_known;
    const result = el("div", { class: "result" });
    const editor = el("div", { class: "editor", hidden: true });
    const run = (what, request) => async () => {
      clear(result);
      const url = replayURL();
      if (!url) {
        result.append(el("p", { class: "error", text: "Type the URL to send to in the box at the top first." }));
        $("replay-url").focus();
        return;
      }
      result.append(el("p", { class: "muted", text: "Sending…" }));
      try {
        const answer = await post(`/api/${what}`, { index: detail.index, url, ...request });
        clear(result);
        result.append(what === "curl" ? renderCurl(answer) : renderReplay(answer, url));
      } catch (error) {
        clear(result);
        result.append(el("p", { class: "error", text: error.message }));
      }
    };
    const buttons = el("div", { class: "actions" },
      el("button", {
        type: "button", class: "primary", id: "replay-resign", disabled: !secret,
        title: secret ? "POST the body again, signed now" : "Needs a secret: start invwh inspect with --secret-file",
        onclick: run("replay", { mode: "resign" }),
      }, "Replay re-signed"),
      el("button", {
        type: "button", id: "replay-as-received", title: "POST the body with its recorded signature headers",
        onclick: run("replay", { mode: "as_received" }),
      }, "Replay as received"),
      el("button", {
        type: "button", id: "copy-curl",
        title: secret ? "A curl command signed now, as invwh sign --format curl writes it" : "A curl command with the recorded signature",
        onclick: run("curl", { mode: secret ? "resign" : "as_received" }),
      }, "Copy as curl"),
      el("button", {
        type: "button", id: "edit", disabled: !secret,
        title: secret ? "Change the body or headers, then send it signed now" : "Needs a secret: start invwh inspect with --secret-file",
        onclick: () => { editor.hidden = !editor.hidden; },
      }, "Edit then replay"),
    );
    fillEditor(editor, detail, delivery, run);
    return el("div", {}, buttons, editor, result);
  }

  function fillEditor(editor, detail, delivery, run) {
    const text = detail.body.text;
    const headerLines = Object.entries(delivery.headers || {})
      .filter(([name]) => !HOP_BY_HOP.has(name.toLowerCase()))
      .map(([name, value]) => `${name}: ${value}`).join("\n");
    const headers = el("textarea", { id: "edit-headers", rows: 5, spellcheck: "false", value: headerLines });
    const base64 = text === null;
    const body = el("textarea", {
      id: "edit-body", rows: 10, spellcheck: "false",
      value: base64 ? String(delivery.body || "") : text,
    });
    const crlf = el("input", { type: "checkbox", id: "edit-crlf", checked: detail.body.crlf });
    const send = () => {
      let bodyText = body.value;
      // A text box keeps its lines with LF only; put the CR back where the delivery had CRLF.
      if (!base64 && crlf.checked) bodyText = bodyText.replace(/\r?\n/g, "\r\n");
      const pairs = headers.value.split("\n").filter((line) => line.trim()).map((line) => {
        const colon = line.indexOf(":");
        return colon < 0 ? [line, ""] : [line.slice(0, colon), line.slice(colon + 1)];
      });
      return { mode: "edited", body: bodyText, body_encoding: base64 ? "base64" : "utf-8", headers: pairs };
    };
    editor.append(
      el("label", { for: "edit-headers", text: "Headers, one 'Name: value' a line (the signature headers are made anew):" }),
      headers,
      el("label", { for: "edit-body", text: base64 ? "Body, in base64 (it is not UTF-8):" : "Body:" }),
      body,
      base64 ? null : el("label", {}, crlf, " send line endings as CRLF"),
      el("div", { class: "actions" },
        el("button", { type: "button", class: "primary", id: "replay-edited", onclick: (e) => run("replay", send())(e) }, "Replay edited, re-signed"),
        el("button", { type: "button", id: "curl-edited", onclick: (e) => run("curl", send())(e) }, "Edited as curl"),
      ),
    );
  }

  function renderReplay(answer, url) {
    const box = el("div", {});
    if (answer.error) {
      box.append(el("p", { class: "error answer", text: `Not delivered to ${url}: ${answer.error}` }));
    } else {
      const ms = answer.elapsed_ms === undefined ? "" : ` in ${answer.elapsed_ms} ms`;
      box.append(el("p", {
        class: `answer ${answer.status >= 200 && answer.status < 300 ? "valid" : "invalid"}`,
        text: `${answer.status} ${answer.reason || ""} (${answer.meaning})${ms}`,
      }));
    }
    if (answer.response_preview) box.append(el("pre", { class: "answer-body", text: answer.response_preview }));
    const sent = answer.request || {};
    box.append(el("details", {},
      el("summary", { text: `What was sent (${sent.body_bytes} bytes of body)` }),
      el("pre", { text: Object.entries(sent.headers || {}).map(([n, v]) => `${n}: ${v}`).join("\n") }),
    ));
    return box;
  }

  function renderCurl(answer) {
    const pre = el("pre", { class: "curl", text: answer.curl });
    const note = el("span", { class: "muted" });
    const copy = el("button", {
      type: "button",
      onclick: async () => {
        try {
          await navigator.clipboard.writeText(answer.curl);
          note.textContent = " copied";
        } catch (error) {
          note.textContent = " select the text to copy it";
        }
      },
    }, "Copy to the clipboard");
    const caution = answer.mode === "as_received"
      ? "With the recorded signature: a receiver that checks the timestamp's age rejects it once stale."
      : "Signed now: the timestamp is fresh for the receiver's tolerance (300 s by default).";
    return el("div", {}, el("p", { class: "muted", text: caution }), pre, copy, note);
  }

  // --- diff and download ------------------------------------------------------------------

  function renderDiffLines(lines) {
    const pre = el("pre", { class: "diffed" });
    for (const [op, line] of lines) {
      pre.append(el("span", { class: op === "+" ? "add" : op === "-" ? "del" : "same", text: `${op} ${line}` }));
    }
    return pre;
  }

  async function showDiff() {
    const [a, b] = Array.from(state.checked).sort((x, y) => x - y);
    const panel = $("diff");
    panel.hidden = false;
    clear(panel);
    try {
      const diff = await getJSON(`/api/diff?a=${a}&b=${b}`);
      panel.append(
        el("h2", { text: `Delivery ${a + 1} (line ${diff.lines[0]}) and delivery ${b + 1} (line ${diff.lines[1]})` }),
        el("button", { type: "button", onclick: () => { panel.hidden = true; } }, "Close the diff"),
        el("h3", { text: "Headers" }), renderDiffLines(diff.headers),
        el("h3", { text: diff.same_bytes ? "Body bytes: the same, byte for byte" : "Body bytes (- the first, + the second)" }),
        renderDiffLines(diff.bytes),
        el("h3", { text: "Body as JSON" }),
        diff.json === null
          ? el("p", { class: "muted", text: diff.not_json.filter(Boolean).join("; ") })
          : el("div", {}, diff.same_json ? el("p", { class: "muted", text: "The same JSON." }) : null, renderDiffLines(diff.json)),
      );
    } catch (error) {
      panel.append(el("p", { class: "error", text: `Could not diff: ${error.message}` }));
    }
  }

  // The deliveries shown, as JSON Lines in the recording's shape: what `invwh replay` reads.
  function download() {
    const lines = shownIndexes().map((index) => JSON.stringify(state.deliveries[index]) + "\n");
    const blob = new Blob(lines, { type: "application/x-ndjson" });
    const link = el("a", { href: URL.createObjectURL(blob), download: "deliveries.jsonl" });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  }

  // --- start -----------------------------------------------------------------------------

  function connect() {
    const source = new EventSource("/api/events");
    const status = $("connection");
    source.addEventListener("open", () => { status.textContent = "live"; status.className = "connection live"; });
    source.addEventListener("error", () => { status.textContent = "reconnecting…"; status.className = "connection"; });
    source.addEventListener("delivery", (event) => {
      addDelivery(Number(event.lastEventId), JSON.parse(event.data));
    });
    source.addEventListener("skipped", (event) => {
      const bad = JSON.parse(event.data);
      notice(`line ${bad.line} of the recording skipped: ${bad.reason}`);
    });
  }

  async function start() {
    try {
      state.settings = await getJSON("/api/settings");
      $("recording").textContent = state.settings.recording;
      if (state.settings.replay_url) $("replay-url").value = state.settings.replay_url;
      if (!state.settings.secret_known) notice("No secret given: verdicts are the recorded ones, and replays go as received.");
    } catch (error) {
      notice(`Could not read the settings: ${error.message}`);
    }
    for (const id of ["filter-verdict", "filter-type", "filter-status"]) $(id).addEventListener("change", applyFilters);
    $("download").addEventListener("click", download);
    $("diff-button").addEventListener("click", showDiff);
    applyFilters();
    connect();
  }

  start();
})();
