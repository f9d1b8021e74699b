// The admin pages' script (saml-example-axum). Every page is a server-rendered
// shell; this file reads and changes everything through the admin JSON API
// (docs/admin-api.md) mounted at <body data-api>. No framework, no outside
// network, no inline script (the pages' Content-Security-Policy allows only
// this file). Data goes into the page as text nodes, never as HTML.
'use strict';

(() => {
  const body = document.body;
  const API = body.dataset.api || '/admin/api';
  const $ = (selector, root = document) => root.querySelector(selector);
  const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));

  // ---- DOM helpers -------------------------------------------------------

  /** An element with attributes (`text` sets its text) and children. */
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (key === 'text') node.textContent = String(value);
      else if (key.startsWith('data-')) node.setAttribute(key, String(value));
      else if (key in node && typeof node[key] !== 'function') node[key] = value;
      else node.setAttribute(key, String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  /** Replaces `node`'s children, leaving out empty ones (`null`, `false`). */
  function fill(node, ...children) {
    node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
    return node;
  }

  /** A date-time from the API, shortened to `YYYY-MM-DD HH:MM:SS`. */
  function when(value) {
    if (!value) return '';
    return String(value).replace('T', ' ').replace(/\.\d+/, '').replace(/(Z|\+00:00)$/, '');
  }

  /** The short name of a binding URI (`...:HTTP-Redirect` -> `HTTP-Redirect`). */
  function bindingName(uri) {
    const parts = String(uri || '').split(':');
    return parts[parts.length - 1] || uri;
  }

  /** A comma- (or newline-) separated list as an array of trimmed items. */
  function splitList(text) {
    return String(text || '').split(/[,\n]/).map((s) => s.trim()).filter(Boolean);
  }

  function setStatus(id, text) {
    const node = document.getElementById(id);
    if (node) node.textContent = text;
  }

  /** Disables `button` while `work` runs. */
  async function busy(button, work) {
    button.disabled = true;
    button.setAttribute('aria-busy', 'true');
    try {
      return await work();
    } finally {
      button.disabled = false;
      button.removeAttribute('aria-busy');
    }
  }

  // ---- the API -----------------------------------------------------------

  class ApiError extends Error {
    constructor(status, error) {
      super((error && error.message) || `HTTP ${status}`);
      this.status = status;
      this.code = (error && error.code) || `http_${status}`;
      this.fields = (error && error.fields) || {};
    }
  }

  /**
   * Calls the admin API. `payload` is sent as JSON, or as is with
   * `contentType`. Every call carries the API's CSRF header.
   */
  async function api(method, path, payload, contentType) {
    const headers = { Accept: 'application/json', 'X-Requested-With': 'saml-admin' };
    let requestBody;
    if (payload !== undefined) {
      headers['Content-Type'] = contentType || 'application/json';
      requestBody = contentType ? payload : JSON.stringify(payload);
    }
    let response;
    try {
      response = await fetch(API + path, {
        method,
        headers,
        body: requestBody,
        credentials: 'same-origin',
        cache: 'no-store',
      });
    } catch (e) {
      throw new ApiError(0, { code: 'network', message: `The server cannot be reached (${e.message}).` });
    }
    const text = await response.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch (_) {
        data = null;
      }
    }
    if (!response.ok) {
      const error = (data && data.error) || { message: text.slice(0, 300) || response.statusText };
      if (response.status === 403 && error.code === 'admin_forbidden') {
        // The break-glass session ended: sign in again, then come back.
        window.location.assign(`/admin/login?next=${encodeURIComponent(window.location.pathname)}`);
      }
      throw new ApiError(response.status, error);
    }
    return data;
  }

  // ---- errors ------------------------------------------------------------

  function clearErrors(root = document) {
    for (const slot of $$('.field-error', root)) {
      slot.textContent = '';
      slot.hidden = true;
    }
    for (const field of $$('.field.invalid', root)) field.classList.remove('invalid');
    const general = $('#error');
    if (general) {
      fill(general);
      general.hidden = true;
    }
  }

  /** The form field the API calls `key` (`settings.display_name`, `metadata_url`...). */
  function findField(key) {
    const candidates = [key];
    if (key.startsWith('settings.')) candidates.push(key.slice('settings.'.length));
    else candidates.push(`settings.${key}`);
    for (const candidate of candidates) {
      const parts = candidate.split('.');
      while (parts.length) {
        const slot = document.querySelector(`.field[data-field="${CSS.escape(parts.join('.'))}"]`);
        if (slot && !slot.hidden) return slot;
        parts.pop();
      }
    }
    return null;
  }

  /** Shows field-level messages next to their fields, the rest on top. */
  function showFieldErrors(fields) {
    const unplaced = [];
    let first = null;
    for (const [key, message] of Object.entries(fields || {})) {
      const slot = findField(key);
      const out = slot && $('.field-error', slot);
      if (out) {
        out.textContent = out.textContent ? `${out.textContent} ${message}` : String(message);
        out.hidden = false;
        slot.classList.add('invalid');
        first = first || slot;
      } else {
        unplaced.push(`${key}: ${message}`);
      }
    }
    return { unplaced, first };
  }

  function showError(error) {
    const general = $('#error');
    const { unplaced, first } = showFieldErrors(error.fields);
    if (general) {
      const code = error.code ? ` (${error.code})` : '';
      fill(general,
        el('p', { text: `${error.message}${code}` }),
        unplaced.length ? el('ul', {}, unplaced.map((line) => el('li', { text: line }))) : null,
      );
      general.hidden = false;
    }
    (first || general)?.scrollIntoView({ block: 'center' });
  }

  /** A field error found before calling the API. */
  function localError(fields, message = 'Please fix the highlighted fields.') {
    showError(new ApiError(0, { code: 'invalid_input', message, fields }));
  }

  // ---- settings and mapping forms ----------------------------------------

  function fillSettings(settings) {
    for (const input of $$('[data-setting]')) {
      const value = settings ? settings[input.dataset.setting] : undefined;
      switch (input.dataset.kind) {
        case 'bool':
          input.checked = Boolean(value);
          break;
        case 'lines':
          input.value = Array.isArray(value) ? value.join('\n') : '';
          break;
        default:
          input.value = value === undefined || value === null ? '' : String(value);
      }
    }
  }

  /** The form's settings laid over `base` (keeps what the form does not show). */
  function readSettings(base) {
    const settings = { ...(base || {}) };
    for (const input of $$('[data-setting]')) {
      const key = input.dataset.setting;
      switch (input.dataset.kind) {
        case 'bool':
          settings[key] = input.checked;
          break;
        case 'lines':
          settings[key] = input.value.split('\n').map((s) => s.trim()).filter(Boolean);
          break;
        case 'int': {
          const text = input.value.trim();
          const number = Number(text);
          // Anything else goes as typed: the API says what is wrong with it.
          settings[key] = text !== '' && Number.isInteger(number) ? number : text;
          break;
        }
        case 'optional':
          settings[key] = input.value.trim() || null;
          break;
        default:
          settings[key] = input.value;
      }
    }
    return settings;
  }

  function mappingRow(target = '', claims = [], required = false) {
    const row = el('tr', { class: 'field', 'data-field': `settings.attribute_mapping.fields.${target}` });
    const targetInput = el('input', {
      type: 'text', class: 'm-target', value: target, placeholder: 'email', 'aria-label': 'User field',
    });
    targetInput.setAttribute('list', 'targets');
    targetInput.addEventListener('input', () => {
      row.dataset.field = `settings.attribute_mapping.fields.${targetInput.value.trim()}`;
    });
    const remove = el('button', { type: 'button', class: 'link', text: 'Remove' });
    remove.addEventListener('click', () => row.remove());
    row.append(
      el('td', {}, targetInput),
      el('td', {},
        el('input', {
          type: 'text', class: 'm-claims', value: claims.join(', '),
          placeholder: 'mail, http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress',
          'aria-label': 'Claims',
        }),
        el('p', { class: 'field-error', hidden: true })),
      el('td', {}, el('input', { type: 'checkbox', class: 'm-required', checked: required, 'aria-label': 'Required' })),
      el('td', {}, remove),
    );
    return row;
  }

  function fillMapping(mapping) {
    const tbody = $('#mapping-rows tbody');
    if (!tbody) return;
    fill(tbody);
    const fields = (mapping && mapping.fields) || {};
    const required = (mapping && mapping.required) || [];
    for (const [target, claims] of Object.entries(fields)) {
      tbody.append(mappingRow(target, claims, required.includes(target)));
    }
    if (!tbody.children.length) tbody.append(mappingRow());
    $('#mapping-roles').value = ((mapping && mapping.roles) || []).join(', ');
    $('#mapping-separator').value = (mapping && mapping.role_separator) || '';
  }

  /** The editor's mapping, or `null` when it changes nothing. */
  function readMapping() {
    const fields = {};
    const required = [];
    for (const row of $$('#mapping-rows tbody tr')) {
      const target = $('.m-target', row).value.trim();
      if (!target) continue;
      fields[target] = splitList($('.m-claims', row).value);
      if ($('.m-required', row).checked) required.push(target);
    }
    const roles = splitList($('#mapping-roles').value);
    const separator = $('#mapping-separator').value;
    if (!Object.keys(fields).length && !required.length && !roles.length && !separator) return null;
    return { fields, required, roles, role_separator: separator || null };
  }

  function wireMappingEditor() {
    $('#mapping-add')?.addEventListener('click', () => {
      const row = mappingRow();
      $('#mapping-rows tbody').append(row);
      $('.m-target', row).focus();
    });
  }

  // ---- metadata: source, preview, facts ------------------------------------

  function certificateTable(certificates) {
    if (!certificates || !certificates.length) return el('p', { class: 'warning', text: 'No signing certificate.' });
    const now = Date.now();
    return el('table', { class: 'grid certs' },
      el('thead', {}, el('tr', {}, el('th', { text: 'Subject' }), el('th', { text: 'Valid until' }),
        el('th', { text: 'SHA-256 fingerprint' }))),
      el('tbody', {}, certificates.map((c) => {
        const expired = c.not_after && Date.parse(c.not_after) < now;
        return el('tr', {},
          el('td', { text: c.subject || '(none)' }),
          el('td', { class: expired ? 'warning' : '', text: `${when(c.not_after)}${expired ? ' (expired)' : ''}` }),
          el('td', {}, el('code', { class: 'fingerprint', text: c.sha256 || '' })));
      })));
  }

  function endpointList(endpoints) {
    if (!endpoints || !endpoints.length) return el('span', { text: 'none' });
    return el('ul', { class: 'plain' }, endpoints.map((e) => (typeof e === 'string'
      ? el('li', {}, el('code', { text: e }))
      : el('li', {}, el('span', { class: 'tag', text: bindingName(e.binding) }), ' ', el('code', { text: e.location })))));
  }

  function facts(pairs) {
    return pairs.flatMap(([term, value]) => [el('dt', { text: term }),
      el('dd', {}, value instanceof Node ? value : el('span', { text: value ?? '' }))]);
  }

  function warningsList(warnings) {
    if (!warnings || !warnings.length) return null;
    return el('ul', { class: 'warnings' }, warnings.map((w) => el('li', { text: w })));
  }

  function renderPreview(preview) {
    const out = $('#preview');
    fill(out,
      el('h3', { text: 'What the metadata says' }),
      el('dl', { class: 'facts' }, facts([
        ['IdP entity ID', el('code', { id: 'preview-entity-id', text: preview.entity_id })],
        ['Sign-in (SSO) URLs', endpointList(preview.sso)],
        ['Sign-out (SLO) URLs', endpointList(preview.slo)],
        ['Signing certificates', certificateTable(preview.certificates)],
      ])),
      warningsList(preview.warnings),
    );
    out.hidden = false;
  }

  /**
   * Wires the metadata URL / XML inputs: "Fetch metadata" previews, then
   * the apply button (enabled only after a preview of the current input)
   * calls `onApply({metadata_url} | {metadata_xml})`.
   */
  function wireMetadataSource(onApply) {
    const url = $('#metadata-url');
    const xml = $('#metadata-xml');
    const fetchButton = $('#fetch-metadata');
    const applyButton = $('#apply-metadata');
    const hint = $('#apply-hint');
    let previewed = null;
    const reset = () => {
      previewed = null;
      applyButton.disabled = true;
      hint.hidden = false;
    };
    url.addEventListener('input', reset);
    xml.addEventListener('input', reset);
    $('#metadata-file')?.addEventListener('change', async (event) => {
      const file = event.target.files && event.target.files[0];
      if (file) {
        xml.value = await file.text();
        reset();
      }
    });
    const manualInputs = $$('[data-manual]');
    for (const input of manualInputs) input.addEventListener('input', reset);
    const manual = () => {
      const out = {};
      for (const input of manualInputs) {
        const value = input.value.trim();
        if (value) out[input.dataset.manual] = value;
      }
      // The binding alone (a select always has a value) is not an entry.
      const entered = Object.keys(out).some((k) => k !== 'sso_binding');
      return entered ? out : null;
    };
    const source = () => {
      const u = url.value.trim();
      const x = xml.value.trim();
      const m = manual();
      const given = [u, x, m].filter(Boolean).length;
      if (given > 1) {
        localError({ metadata_url: 'Give one of: the metadata URL, the metadata XML, or the details by hand.' });
        return null;
      }
      if (!given) {
        localError({ metadata_url: 'Give the IdP metadata URL, paste its XML, or enter its details by hand.' });
        return null;
      }
      if (u) return { metadata_url: u };
      return x ? { metadata_xml: x } : { manual: m };
    };
    fetchButton.addEventListener('click', () => busy(fetchButton, async () => {
      clearErrors();
      const src = source();
      if (!src) return;
      $('#preview').hidden = true;
      try {
        const preview = await api('POST', '/metadata/preview', src);
        renderPreview(preview);
        // Apply exactly the document that was shown (a URL is not fetched twice).
        previewed = src.metadata_url && preview.metadata_xml ? { metadata_xml: preview.metadata_xml } : src;
        applyButton.disabled = false;
        hint.hidden = true;
      } catch (e) {
        showError(e);
      }
    }));
    applyButton.addEventListener('click', () => {
      if (!previewed) return;
      const src = previewed;
      busy(applyButton, () => onApply(src)).then(() => {
        if (!previewed) applyButton.disabled = true;
      });
    });
    return {
      reset: () => {
        url.value = '';
        xml.value = '';
        for (const input of manualInputs) if (input.tagName !== 'SELECT') input.value = '';
        reset();
        $('#preview').hidden = true;
      },
    };
  }

  // ---- the provider list -------------------------------------------------

  function enableSwitch(name, enabled, onChange) {
    const input = el('input', { type: 'checkbox', role: 'switch', checked: enabled, 'data-toggle': name });
    const label = el('span', { text: enabled ? 'Enabled' : 'Disabled' });
    input.addEventListener('change', async () => {
      clearErrors();
      const wanted = input.checked;
      input.disabled = true;
      try {
        const provider = await api('POST', `/providers/${encodeURIComponent(name)}/${wanted ? 'enable' : 'disable'}`);
        input.checked = Boolean(provider.enabled);
        label.textContent = provider.enabled ? 'Enabled' : 'Disabled';
        onChange?.(provider);
      } catch (e) {
        input.checked = !wanted;
        showError(e);
      } finally {
        input.disabled = false;
      }
    });
    return el('label', { class: 'switch' }, input, ' ', label);
  }

  async function providersPage() {
    const tbody = $('#providers tbody');
    let providers;
    try {
      providers = await api('GET', '/providers');
    } catch (e) {
      fill(tbody, el('tr', {}, el('td', { colSpan: 5, text: 'The providers cannot be loaded.' })));
      showError(e);
      return;
    }
    if (!providers.length) {
      fill(tbody, el('tr', {}, el('td', { colSpan: 5 },
        'No provider yet. ', el('a', { href: '/admin/providers/new', text: 'Add the first one.' }))));
      return;
    }
    fill(tbody, ...providers.map((p) => {
      const row = el('tr', { 'data-name': p.name, 'data-enabled': String(Boolean(p.enabled)) });
      const certs = p.certificates || [];
      const soonest = certs.map((c) => c.not_after).filter(Boolean).sort()[0];
      row.append(
        el('td', {}, el('a', { href: `/admin/providers/${encodeURIComponent(p.name)}`, text: p.name })),
        el('td', { text: p.display_name }),
        el('td', {}, el('code', { text: p.entity_id })),
        el('td', { text: certs.length ? `${certs.length}, until ${when(soonest).slice(0, 10)}` : 'none' }),
        el('td', {}, enableSwitch(p.name, p.enabled, (updated) => {
          row.dataset.enabled = String(Boolean(updated.enabled));
        })),
      );
      return row;
    }));
  }

  // ---- add a provider ----------------------------------------------------

  function newProviderPage() {
    let defaults = {};
    try {
      defaults = JSON.parse(body.dataset.defaults || '{}');
    } catch (_) {
      defaults = {};
    }
    fillSettings({ ...defaults, enabled: false });
    fillMapping(null);
    wireMappingEditor();
    $('#new-provider').addEventListener('submit', (event) => event.preventDefault());
    wireMetadataSource(async (source) => {
      clearErrors();
      const name = $('#name').value.trim();
      if (!name) {
        localError({ name: 'Give the provider a name.' });
        return;
      }
      const settings = readSettings(defaults);
      settings.attribute_mapping = readMapping();
      try {
        const created = await api('POST', '/providers', { name, settings, ...source });
        window.location.assign(`/admin/providers/${encodeURIComponent(created.name)}?created=1`);
      } catch (e) {
        showError(e);
      }
    });
  }

  // ---- one provider ------------------------------------------------------

  function copyButton(text) {
    const button = el('button', { type: 'button', class: 'link copy', text: 'Copy' });
    button.addEventListener('click', async () => {
      try {
        await navigator.clipboard.writeText(text);
        button.textContent = 'Copied';
      } catch (_) {
        // No clipboard on plain http: select the value instead.
        const range = document.createRange();
        range.selectNodeContents(button.previousElementSibling);
        window.getSelection().removeAllRanges();
        window.getSelection().addRange(range);
        button.textContent = 'Selected: press Ctrl+C';
      }
    });
    return button;
  }

  function spValue(id, value) {
    return el('span', {}, el('code', { id, text: value || '' }), ' ', value ? copyButton(value) : null);
  }

  async function providerPage() {
    const name = body.dataset.provider;
    const path = `/providers/${encodeURIComponent(name)}`;
    const switchInput = $('#enabled-switch');
    let provider = null;

    const render = () => {
      switchInput.checked = Boolean(provider.enabled);
      body.dataset.enabled = String(Boolean(provider.enabled));
      setStatus('enabled-status', provider.enabled
        ? `Users see “Log in using ${provider.display_name}”.`
        : 'Hidden from the sign-in page; sign-ins refused.');
      fill($('#idp-facts'), ...facts([
        ['Display name', provider.display_name],
        ['IdP entity ID', el('code', { id: 'idp-entity-id', text: provider.entity_id })],
        ['Sign-in (SSO) URLs', endpointList(provider.sso_urls)],
        ['Sign-out (SLO) URLs', endpointList(provider.slo_urls)],
        ['Signing certificates', certificateTable(provider.certificates)],
        ['Last change', `${when(provider.updated_at)} UTC (revision ${provider.revision})`],
      ]));
      const warnings = warningsList(provider.warnings);
      if (warnings) $('#idp-facts').append(el('dt', { text: 'Warnings' }), el('dd', {}, warnings));
      fillSettings(provider.settings);
      fillMapping(provider.settings && provider.settings.attribute_mapping);
    };

    try {
      provider = await api('GET', path);
    } catch (e) {
      showError(e);
      for (const section of $$('main section, main .switchline, main .toc')) section.hidden = true;
      return;
    }
    if (new URLSearchParams(window.location.search).has('created')) {
      setStatus('enabled-status', 'Provider saved.');
    }
    render();
    wireMappingEditor();

    const update = async (change, statusId, done) => {
      clearErrors();
      setStatus(statusId, '');
      try {
        provider = await api('PUT', path, change);
        render();
        setStatus(statusId, `${done} (revision ${provider.revision}).`);
        return true;
      } catch (e) {
        showError(e);
        setStatus(statusId, 'Not saved.');
        return false;
      }
    };

    switchInput.addEventListener('change', async () => {
      clearErrors();
      const wanted = switchInput.checked;
      switchInput.disabled = true;
      try {
        provider = await api('POST', `${path}/${wanted ? 'enable' : 'disable'}`);
        render();
      } catch (e) {
        switchInput.checked = !wanted;
        showError(e);
      } finally {
        switchInput.disabled = false;
      }
    });

    const source = wireMetadataSource(async (src) => {
      if (await update(src, 'enabled-status', 'Metadata applied')) source.reset();
    });

    $('#settings-form').addEventListener('submit', (event) => event.preventDefault());
    const saveSettings = $('#settings-save');
    saveSettings.addEventListener('click', () => busy(saveSettings,
      () => update({ settings: readSettings(provider.settings) }, 'settings-status', 'Saved')));

    const saveMapping = $('#mapping-save');
    saveMapping.addEventListener('click', () => busy(saveMapping, () => update(
      { settings: { ...provider.settings, attribute_mapping: readMapping() } },
      'mapping-status', 'Saved',
    )));

    // What the IdP administrator pastes.
    api('GET', `${path}/sp`).then((sp) => {
      fill($('#sp-facts'), ...facts([
        ['SP entity ID (audience)', spValue('sp-entity-id', sp.entity_id)],
        ['ACS URL (reply URL) for this provider', spValue('sp-acs-url', sp.acs_url)],
        ['Shared ACS URL (any provider)', spValue('sp-shared-acs-url', sp.shared_acs_url)],
        ['SP metadata URL', spValue('sp-metadata-url', sp.metadata_url)],
        ['Single logout URL', spValue('sp-slo-url', sp.slo_url)],
        ['Sign-in link for this provider', spValue('sp-login-url', sp.login_url)],
      ]));
      if (sp.metadata_xml) {
        $('#sp-facts').append(el('dt', { text: 'SP metadata XML' }),
          el('dd', {}, el('details', {}, el('summary', { text: 'Show' }), el('pre', { text: sp.metadata_xml }))));
      }
    }).catch(showError);

    // Test login.
    const testButton = $('#test-login');
    testButton.addEventListener('click', () => busy(testButton, async () => {
      clearErrors();
      try {
        const test = await api('POST', `${path}/test`);
        const link = $('#test-link');
        link.href = test.login_url;
        link.hidden = false;
        window.open(test.login_url, '_blank', 'noopener');
      } catch (e) {
        showError(e);
      }
    }));

    // Users, a page at a time.
    const PAGE = 50;
    let offset = 0;
    const loadUsers = async () => {
      let page;
      try {
        page = await api('GET', `${path}/users?offset=${offset}&limit=${PAGE}`);
      } catch (e) {
        showError(e);
        return;
      }
      const users = page.users || [];
      fill($('#users-table tbody'), ...(users.length ? users.map((u) => el('tr', {},
        el('td', {}, el('code', { text: u.external_id })),
        el('td', { text: u.email || '' }),
        el('td', { text: u.display_name || '' }),
        el('td', { text: u.enabled ? 'yes' : 'no' }),
        el('td', { text: when(u.created_at) })))
        : [el('tr', {}, el('td', { colSpan: 5, text: 'No users yet.' }))]));
      const total = Number(page.total || 0);
      body.dataset.users = String(total);
      setStatus('users-count', total
        ? `${offset + 1}–${offset + users.length} of ${total}`
        : '0 users');
      $('#users-prev').disabled = offset === 0;
      $('#users-next').disabled = offset + users.length >= total;
    };
    $('#users-prev').addEventListener('click', () => {
      offset = Math.max(0, offset - PAGE);
      loadUsers();
    });
    $('#users-next').addEventListener('click', () => {
      offset += PAGE;
      loadUsers();
    });
    loadUsers();

    // CSV import.
    const importButton = $('#import-button');
    importButton.addEventListener('click', () => busy(importButton, async () => {
      clearErrors();
      const file = $('#import-file').files[0];
      const csv = file ? await file.text() : $('#import-text').value;
      if (!csv.trim()) {
        localError({ csv: 'Choose a CSV file or paste its text.' });
        return;
      }
      const out = $('#import-result');
      out.hidden = true;
      try {
        const report = await api('POST', `${path}/users/import`, csv, 'text/csv');
        const count = (v) => (Array.isArray(v) ? v.length : Number(v || 0));
        const failed = report.failed || [];
        fill(out,
          el('p', { id: 'import-counts', 'data-added': count(report.added), 'data-skipped': count(report.skipped), 'data-failed': failed.length },
            el('strong', { text: `Added ${count(report.added)}` }), ' · ',
            `Skipped ${count(report.skipped)} (already present)`, ' · ',
            el('span', { class: failed.length ? 'warning' : '', text: `Failed ${failed.length}` })),
          failed.length ? el('table', { class: 'grid', id: 'import-failed' },
            el('thead', {}, el('tr', {}, el('th', { text: 'Line' }), el('th', { text: 'External ID' }), el('th', { text: 'Why' }))),
            el('tbody', {}, failed.map((f) => el('tr', {},
              el('td', { text: f.line }), el('td', { text: f.external_id || '' }), el('td', { text: f.reason }))))) : null,
        );
        out.hidden = false;
        $('#import-file').value = '';
        offset = 0;
        await loadUsers();
      } catch (e) {
        showError(e);
      }
    }));

    // Removal.
    const removeButton = $('#remove-button');
    removeButton.addEventListener('click', () => busy(removeButton, async () => {
      clearErrors();
      if (!window.confirm(`Remove provider “${name}”, its users and their sessions?`)) return;
      try {
        await api('DELETE', path);
        window.location.assign('/admin');
      } catch (e) {
        showError(e);
      }
    }));
  }

  // ---- the audit log -----------------------------------------------------

  function auditPage() {
    const PAGE = 50;
    let before = null;
    const tbody = $('#audit-table tbody');
    const older = $('#audit-older');
    const load = async (append) => {
      clearErrors();
      const query = new URLSearchParams({ limit: String(PAGE) });
      const provider = $('#audit-provider').value.trim();
      const kind = $('#audit-kind').value;
      if (provider) query.set('provider', provider);
      if (kind) query.set('kind', kind);
      if (before) query.set('before', before);
      let events;
      try {
        events = await api('GET', `/audit?${query}`);
      } catch (e) {
        showError(e);
        return;
      }
      const rows = events.map((e) => el('tr', { 'data-kind': e.kind },
        el('td', { text: when(e.at) }), el('td', {}, el('span', { class: `tag ${e.kind}`, text: e.kind })),
        el('td', { text: e.provider || '' }), el('td', { text: e.subject || '' }),
        el('td', { text: e.client_address || '' }), el('td', { text: e.code || '' }),
        el('td', { text: e.detail || '' })));
      if (append) tbody.append(...rows);
      else fill(tbody, ...(rows.length ? rows : [el('tr', {}, el('td', { colSpan: 7, text: 'No events.' }))]));
      before = events.length ? events[events.length - 1].at : before;
      older.disabled = events.length < PAGE;
    };
    $('#audit-filter').addEventListener('submit', (event) => {
      event.preventDefault();
      before = null;
      load(false);
    });
    older.addEventListener('click', () => load(true));
    load(false);
  }

  const pages = {
    providers: providersPage,
    'provider-new': newProviderPage,
    provider: providerPage,
    audit: auditPage,
  };
  const start = pages[body.dataset.page];
  if (start) {
    Promise.resolve(start()).finally(() => {
      body.dataset.ready = 'true';
    });
  }
})();
