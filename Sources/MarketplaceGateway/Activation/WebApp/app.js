// The reference activation page: walks a buyer from the marketplace's landing redirect
// (`/activate?session=…`) through every branch of the activation flow to an activated
// subscription, then the console's log-in (`/login`). It speaks to the gateway's
// ActivationService and the console's WorkspaceConsoleService with Connect (JSON), and shows
// each refused field beside its input, by the request's own field path.

import { call, RPCFailure } from "./connect.js";
import { hasErrorText, pickLanguage, words } from "./i18n.js";

const activationAPI = document.querySelector('meta[name="activation-api"]').content;
const consoleAPI = document.querySelector('meta[name="console-api"]').content;
const activationService = "guance.gateway.v1.ActivationService";
const consoleService = "guance.console.v1.WorkspaceConsoleService";
const pollMilliseconds = 1000;

const state = {
  language: pickLanguage(location.search, navigator.language),
  session: new URLSearchParams(location.search).get("session"),
  activation: null,
  // Which form of the current step is open: "register", "bind", "code", "bindWorkspace",
  // "createWorkspace"; null for the step's choices.
  view: null,
  owner: "existing",
  challenge: null,
  maskedEmail: "",
  workspaces: null,
  sites: null,
  signedIn: null,
  failure: null,
};
let t = words(state.language);

// MARK: Rendering helpers

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "onclick") node.addEventListener("click", value);
    else if (name === "onsubmit") node.addEventListener("submit", value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const fieldID = (name) => `field-${name.replace(/[^a-z0-9]/gi, "-")}`;

/// One labelled input named by its request field path ("basic.username").
function input(name, label, { type = "text", autocomplete, options, required = true, note } = {}) {
  const id = fieldID(name);
  const describedBy = `${id}-violation`;
  if (type === "checkbox") {
    return element(
      "div",
      { class: "field check" },
      element("input", { type, id, name, "aria-describedby": describedBy }),
      element("label", { for: id }, label),
      element("div", { class: "violation", id: describedBy, role: "alert" }),
    );
  }
  const control = options
    ? element(
        "select",
        { id, name, required, "aria-describedby": describedBy },
        options.map((option) => element("option", { value: option.value }, option.label)),
      )
    : element("input", { type, id, name, autocomplete, required, "aria-describedby": describedBy });
  return element(
    "div",
    { class: "field" },
    element("label", { for: id }, label),
    control,
    note ? element("div", { class: "note" }, note) : null,
    element("div", { class: "violation", id: describedBy, role: "alert" }),
  );
}

function button(label, { id, primary = true, onclick, type = "button" } = {}) {
  return element("button", { type, id, class: primary ? "primary" : "secondary", onclick }, label);
}

function alert(kind, text) {
  return element("div", { class: `alert ${kind}`, role: kind === "error" ? "alert" : "status" }, text);
}

/// The request a form describes: each named input at its field path.
function request(form, extra = {}) {
  const body = structuredClone(extra);
  for (const control of form.querySelectorAll("[name]")) {
    // Radio buttons choose a part of the form (whose account owns a workspace), not a field.
    if (control.type === "radio") continue;
    const path = control.name.split(".");
    let target = body;
    for (const key of path.slice(0, -1)) target = target[key] ??= {};
    const last = path[path.length - 1];
    if (control.type === "checkbox") target[last] = control.checked;
    else if (control.value !== "") target[last] = control.value;
  }
  return body;
}

/// Submits `form` with `action`; a refusal is shown beside each named field, or above the form.
function submitting(action) {
  return async (event) => {
    event.preventDefault();
    const form = event.target;
    const submit = form.querySelector('button[type="submit"]');
    for (const node of form.querySelectorAll(".violation")) node.textContent = "";
    for (const node of form.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
    form.querySelector(".form-error")?.remove();
    submit.disabled = true;
    try {
      await action(form);
    } catch (error) {
      showFailure(form, error);
    } finally {
      submit.disabled = false;
    }
  };
}

function showFailure(form, error) {
  if (!(error instanceof RPCFailure)) throw error;
  const unplaced = [];
  for (const violation of error.violations) {
    const control = form.querySelector(`[name="${CSS.escape(violation.field)}"]`);
    if (!control) {
      unplaced.push(`${violation.field}: ${violation.description}`);
      continue;
    }
    control.setAttribute("aria-invalid", "true");
    document.getElementById(`${control.id}-violation`).textContent = violation.description;
  }
  let text;
  if (error.violations.length > 0) text = [t("fixFields"), ...unplaced].join(" ");
  else text = failureText(error);
  const box = alert("error", text);
  box.classList.add("form-error");
  form.prepend(box);
  form.querySelector('[aria-invalid="true"]')?.focus();
}

function failureText(error) {
  if (hasErrorText(state.language, error.reason)) return t(`errors.${error.reason}`);
  if (error.code === "unavailable" && !error.reason) return t("unavailable");
  return t("failed", { message: error.message });
}

// MARK: Calls

const activation = (method, body) => call(activationAPI, `${activationService}/${method}`, body);
const consoleCall = (method, body) => call(consoleAPI, `${consoleService}/${method}`, body);

async function refresh() {
  const answer = await activation("GetActivation", { session_id: state.session });
  settle(answer.activation);
}

/// A new view of the activation: render it, and poll while it is being activated.
function settle(next) {
  state.activation = next;
  state.failure = null;
  render();
  if (next.state === "ACTIVATION_STATE_ACTIVATING") {
    setTimeout(() => refresh().catch(fail), pollMilliseconds);
  }
}

function fail(error) {
  state.failure = error instanceof RPCFailure ? failureText(error) : String(error);
  render();
}

async function sites() {
  if (!state.sites) state.sites = await consoleCall("ListSites", {});
  return state.sites;
}

// MARK: Views

function render() {
  document.documentElement.lang = state.language === "zh" ? "zh-CN" : "en";
  document.title = t("title");
  for (const node of document.querySelectorAll(".lang")) {
    node.setAttribute("aria-pressed", String(node.dataset.lang === state.language));
  }
  const app = document.getElementById("app");
  const kept = keptValues(app);
  app.replaceChildren(...view());
  restore(app, kept);
}

function view() {
  if (location.pathname.endsWith("/login")) return loginView();
  const heading = element("h1", {}, t("title"));
  if (!state.session) return [heading, alert("error", t("noSession"))];
  if (state.failure) return [heading, alert("error", state.failure)];
  if (!state.activation) return [heading, element("p", {}, t("loading"))];
  const a = state.activation;
  const summary = element(
    "dl",
    { class: "summary" },
    element("dt", {}, t("subscription")),
    element("dd", {}, a.subscription?.name ?? ""),
    element("dt", {}, t("plan")),
    element("dd", {}, a.subscription?.planId ?? ""),
    element("dt", {}, t("purchaser")),
    element("dd", {}, a.subscription?.purchaserEmail ?? ""),
  );
  return [heading, summary, ...stepView(a)];
}

function stepView(a) {
  switch (a.state) {
    case "ACTIVATION_STATE_NEEDS_BILLING_ACCOUNT":
      if (state.view === "register") return registerView();
      if (state.view === "bind") return bindView();
      if (state.view === "code") return codeView();
      return [
        element("h2", {}, t("chooseBilling")),
        element(
          "div",
          { class: "choices" },
          button(t("registerChoice"), { id: "choose-register", onclick: () => open("register") }),
          button(t("bindChoice"), { id: "choose-bind", primary: false, onclick: () => open("bind") }),
        ),
      ];
    case "ACTIVATION_STATE_NEEDS_WORKSPACE":
      return workspaceStepView(a);
    case "ACTIVATION_STATE_ACTIVATING":
      return [
        element(
          "div",
          { class: "progress", role: "status" },
          element("div", { class: "spinner", "aria-hidden": "true" }),
          t("activating"),
        ),
        a.activationProblem ? alert("info", t("activatingProblem", { problem: a.activationProblem })) : null,
      ];
    case "ACTIVATION_STATE_ACTIVATED": {
      const login = new URL(a.consoleLoginUrl || "/login", location.href);
      login.searchParams.set("lang", state.language);
      return [
        alert("success", t("activated")),
        a.workspace ? element("p", { id: "bound-workspace" }, t("boundWorkspace", a.workspace)) : null,
        element("a", { href: login.href, id: "log-in", class: "button-link" }, t("logIn")),
      ];
    }
    case "ACTIVATION_STATE_NEEDS_ATTENTION":
      return [alert("error", t("needsAttention")), a.activationProblem ? element("p", {}, a.activationProblem) : null];
    case "ACTIVATION_STATE_CLOSED":
      return [alert("error", t("closed"))];
    default:
      return [element("p", {}, t("loading"))];
  }
}

function open(view) {
  state.view = view;
  render();
  document.querySelector("#app input, #app select")?.focus();
}

const backButton = (to = null) => button(t("back"), { primary: false, onclick: () => open(to) });

/// A form's submit button, and the way back to the step's choices (or `back`).
const actions = (label, back = null) =>
  element("div", { class: "choices" }, button(label, { type: "submit", id: "submit" }), backButton(back));

/// Takes a step of the flow: the activation it answers is what the page shows next.
async function takeStep(method, body) {
  const answer = await activation(method, body);
  state.view = null;
  state.workspaces = null;
  settle(answer.activation);
}

/// A form that takes `method`'s step with the request it describes.
const stepTaking = (method) => (form) => takeStep(method, request(form, { session_id: state.session }));

function basicFields(prefix) {
  return [
    input(`${prefix}.username`, t("username"), { autocomplete: "username" }),
    input(`${prefix}.password`, t("password"), { type: "password", autocomplete: "new-password" }),
    input(`${prefix}.password_confirmation`, t("passwordConfirmation"), {
      type: "password",
      autocomplete: "new-password",
    }),
    input(`${prefix}.email`, t("email"), { type: "email", autocomplete: "email" }),
    input(`${prefix}.phone`, t("phone"), { type: "tel", autocomplete: "tel", required: false }),
  ];
}

function workspaceFields() {
  const known = state.sites ?? { sites: [], languages: [] };
  return [
    input("workspace.name", t("workspaceName")),
    input("workspace.site", t("site"), {
      options: known.sites.map((site) => ({ value: site.code, label: `${site.displayName} (${site.code})` })),
      note: t("siteNote"),
    }),
    input("workspace.language", t("language"), {
      options: known.languages.map((language) => ({ value: language.code, label: language.displayName })),
    }),
  ];
}

function registerView() {
  return [
    element(
      "form",
      { id: "register", novalidate: true, onsubmit: submitting(stepTaking("RegisterAndActivate")) },
      element("fieldset", {}, element("legend", {}, t("basicInformation")), basicFields("basic")),
      element(
        "fieldset",
        {},
        element("legend", {}, t("companyInformation")),
        input("company.company_name", t("companyName"), { autocomplete: "organization" }),
        input("company.industry", t("industry")),
        input("company.region", t("region")),
        input("company.contact_name", t("contactName"), { autocomplete: "name" }),
        input("company.description", t("description"), { required: false }),
      ),
      element("fieldset", {}, element("legend", {}, t("workspaceInformation")), workspaceFields()),
      input("terms_accepted", t("terms"), { type: "checkbox" }),
      actions(t("registerAndActivate")),
    ),
  ];
}

function bindView() {
  return [
    element(
      "form",
      { id: "bind", novalidate: true, onsubmit: submitting(startBinding) },
      input("billing_username", t("billingUsername"), { autocomplete: "username" }),
      actions(t("sendCode")),
    ),
  ];
}

async function startBinding(form) {
  const answer = await activation("StartBillingAccountBinding", request(form, { session_id: state.session }));
  state.maskedEmail = answer.maskedEmail ?? "";
  state.activation = answer.activation ?? state.activation;
  open("code");
}

function codeView() {
  return [
    alert("info", t("codeSent", { email: state.maskedEmail })),
    element(
      "form",
      { id: "confirm", novalidate: true, onsubmit: submitting(stepTaking("ConfirmBillingAccountBinding")) },
      input("code", t("code"), { autocomplete: "one-time-code" }),
      actions(t("confirm"), "bind"),
    ),
  ];
}

function workspaceStepView(a) {
  const linked = [
    a.branch === "ACTIVATION_BRANCH_ALREADY_LINKED" ? alert("info", t("alreadyLinked")) : null,
    element("p", { id: "linked-account" }, t("linked", { username: a.billingAccountUsername ?? "" })),
  ];
  if (state.workspaces === null) {
    activation("ListBindableWorkspaces", { session_id: state.session })
      .then((answer) => {
        state.workspaces = answer.workspaces ?? [];
        render();
      })
      .catch(fail);
    return [...linked, element("p", {}, t("loading"))];
  }
  if (state.view === "bindWorkspace") return [...linked, bindWorkspaceView()];
  if (state.view === "createWorkspace") return [...linked, ...createWorkspaceView()];
  const canBind = state.workspaces.some((workspace) => workspace.status === "active");
  return [
    ...linked,
    element("h2", {}, t("workspaceChoice")),
    canBind ? null : element("p", {}, t("noWorkspaces")),
    element(
      "div",
      { class: "choices" },
      canBind ? button(t("bindWorkspaceChoice"), { id: "choose-bind-workspace", onclick: () => open("bindWorkspace") }) : null,
      button(t("createWorkspaceChoice"), {
        id: "choose-create-workspace",
        primary: !canBind,
        onclick: () => open("createWorkspace"),
      }),
    ),
  ];
}

function bindWorkspaceView() {
  const options = state.workspaces
    .filter((workspace) => workspace.status === "active")
    .map((workspace) => ({ value: workspace.workspaceId, label: `${workspace.name} (${workspace.site})` }));
  return element(
    "form",
    { id: "bind-workspace", novalidate: true, onsubmit: submitting(stepTaking("BindWorkspace")) },
    input("workspace_id", t("workspaceInformation"), { options }),
    actions(t("bindWorkspace")),
  );
}

function createWorkspaceView() {
  const ownerChoice = (value, label) =>
    element(
      "label",
      {},
      element("input", {
        type: "radio",
        name: "owner-choice",
        value,
        id: `owner-${value}`,
        checked: state.owner === value,
        onclick: () => {
          state.owner = value;
          render();
        },
      }),
      ` ${label}`,
    );
  const owner =
    state.owner === "existing"
      ? [
          input("existing_account.email", t("guanceEmail"), { type: "email", autocomplete: "email" }),
          element("div", { class: "choices" }, button(t("sendCode"), { id: "send-workspace-code", primary: false, onclick: sendWorkspaceCode })),
          state.challenge
            ? [alert("info", t("codeSent", { email: state.challenge.email })), input("existing_account.code", t("code"), { autocomplete: "one-time-code" })]
            : null,
        ]
      : basicFields("new_account");
  return [
    element(
      "form",
      { id: "create-workspace", novalidate: true, onsubmit: submitting(createWorkspace) },
      element("fieldset", {}, element("legend", {}, t("workspaceInformation")), workspaceFields()),
      element(
        "fieldset",
        {},
        element("legend", {}, t("owner")),
        element("div", { class: "choices", role: "radiogroup" }, ownerChoice("existing", t("existingAccount")), ownerChoice("new", t("newAccount"))),
        owner,
      ),
      input("terms_accepted", t("terms"), { type: "checkbox" }),
      actions(t("createWorkspace")),
    ),
  ];
}

async function sendWorkspaceCode(event) {
  const form = event.target.closest("form");
  const email = form.querySelector('[name="existing_account.email"]').value;
  const sender = event.target;
  sender.disabled = true;
  form.querySelector(".form-error")?.remove();
  try {
    const answer = await activation("SendWorkspaceEmailCode", { session_id: state.session, email });
    state.challenge = { id: answer.challengeId, email };
    render();
    document.querySelector('[name="existing_account.code"]')?.focus();
  } catch (error) {
    // The request's own field is `email`; on this form it is the existing account's.
    if (error instanceof RPCFailure) {
      error.violations = error.violations.map((v) => ({ ...v, field: v.field === "email" ? "existing_account.email" : v.field }));
    }
    showFailure(form, error);
  } finally {
    sender.disabled = false;
  }
}

async function createWorkspace(form) {
  const body = request(form, { session_id: state.session });
  if (state.owner === "existing") body.existing_account = { ...body.existing_account, challenge_id: state.challenge?.id ?? "" };
  await takeStep("CreateWorkspace", body);
}

function loginView() {
  const heading = element("h1", {}, t("logIn"));
  if (state.signedIn) {
    const { account, workspaces } = state.signedIn;
    return [
      heading,
      alert("success", t("signedIn", { username: account?.username ?? "" })),
      element("h2", {}, t("workspaces")),
      element(
        "ul",
        { class: "workspaces", id: "workspaces" },
        (workspaces ?? []).map((workspace) => element("li", {}, `${workspace.name} (${workspace.site})`)),
      ),
    ];
  }
  return [
    heading,
    element(
      "form",
      { id: "login", novalidate: true, onsubmit: submitting(logIn) },
      input("login", t("login"), { autocomplete: "username" }),
      input("password", t("password"), { type: "password", autocomplete: "current-password" }),
      element("div", { class: "choices" }, button(t("signIn"), { type: "submit", id: "submit" })),
    ),
  ];
}

async function logIn(form) {
  state.signedIn = await consoleCall("Login", request(form));
  render();
}

// What was typed survives a re-render (a language switch, a choice of owner).
function keptValues(root) {
  const values = new Map();
  for (const control of root.querySelectorAll("input[name], select[name]")) {
    if (control.type === "radio") continue;
    values.set(control.name, control.type === "checkbox" ? control.checked : control.value);
  }
  return values;
}

function restore(root, values) {
  for (const control of root.querySelectorAll("input[name], select[name]")) {
    if (!values.has(control.name) || control.type === "radio") continue;
    if (control.type === "checkbox") control.checked = values.get(control.name);
    else control.value = values.get(control.name);
  }
}

// MARK: Start

for (const node of document.querySelectorAll(".lang")) {
  node.addEventListener("click", () => {
    state.language = node.dataset.lang;
    t = words(state.language);
    const url = new URL(location.href);
    url.searchParams.set("lang", state.language);
    history.replaceState(null, "", url);
    render();
  });
}

render();
if (!location.pathname.endsWith("/login") && state.session) {
  Promise.all([refresh(), sites().then(render)]).catch(fail);
}
