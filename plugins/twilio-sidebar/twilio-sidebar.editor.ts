/**
 * The Twilio sidebar tab (built into twilio-sidebar.html): each account's queue over the last 15
 * minutes, its last 50 messages and calls, webhook refusals and pollers, and every open wait with a
 * link to its node. A first snapshot from GET twilio-activity, then what the runtime pushes over
 * comms (plugins/twilio-sidebar/twilio-sidebar.ts). Every text goes in with .text(): nothing the
 * runtime sends is read as HTML.
 */
(function () {
  interface Minute {
    at: number;
    queued: number;
    inFlight: number;
    started: number;
    rateLimited: number;
    retried: number;
  }
  interface Entry {
    sid: string;
    kind: 'message' | 'call';
    direction: 'in' | 'out';
    from: string;
    to: string;
    status: string;
    at: number;
    updatedAt: number;
  }
  interface Poller {
    number: string;
    lastLookAt?: number;
    lastError?: { code: string; twilioCode?: number; at: number };
    failing: boolean;
  }
  interface Account {
    id: string;
    name: string;
    accountSid: string;
    queue: { queued: number; inFlight: number; window: number; retrying: number };
    minutes: Minute[];
    traffic: Entry[];
    refusals: Record<'signature' | 'size' | 'type' | 'slow' | 'other', number>;
    pollers: Poller[];
  }
  interface Wait {
    nodeId: string;
    id: string;
    deadline?: number;
  }
  interface SidebarRed {
    _(key: string, subs?: Record<string, unknown>): string;
    sidebar: { addTab(options: object): void; show(id: string): void };
    comms: { subscribe(topic: string, f: (topic: string, data: unknown) => void): void };
    view: { reveal(id: string): void };
    nodes: { node(id: string): { id: string; type: string; name?: string; account?: string } | null };
    plugins: { registerPlugin(id: string, definition: object): void };
  }
  const red = RED as unknown as SidebarRed;
  const NS = '@nr-twilio/node-red-twilio/twilio-sidebar';
  const t = (key: string, subs?: Record<string, unknown>) => red._(`${NS}:sidebar.${key}`, subs);
  const accounts = new Map<string, Account>();
  let waits: Wait[] = [];
  let content: JQuery | undefined;
  let loaded = false;

  const time = (ms: number | undefined) => (ms ? new Date(ms).toLocaleTimeString() : '–');
  const shortSid = (sid: string) => `${sid.slice(0, 2)}…${sid.slice(-6)}`;

  /** Fifteen bars of the most in flight in each minute (queued above them, lighter), a dot where 429s or retries came. */
  function chart(minutes: Minute[]): JQuery<SVGSVGElement> {
    const most = Math.max(1, ...minutes.map((m) => m.inFlight + m.queued));
    const width = 15 * 12;
    const height = 40;
    const ns = 'http://www.w3.org/2000/svg';
    const svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('width', String(width));
    svg.setAttribute('height', String(height + 6));
    svg.setAttribute('class', 'twilio-sidebar-chart');
    minutes.forEach((m, i) => {
      const bar = (value: number, base: number, cls: string) => {
        const h = (value / most) * height;
        const rect = document.createElementNS(ns, 'rect');
        rect.setAttribute('x', String(i * 12 + 1));
        rect.setAttribute('y', String(height - base - h));
        rect.setAttribute('width', '10');
        rect.setAttribute('height', String(h));
        rect.setAttribute('class', cls);
        svg.appendChild(rect);
        return h;
      };
      const flight = bar(m.inFlight, 0, 'in-flight');
      bar(m.queued, flight, 'queued');
      if (m.rateLimited + m.retried > 0) {
        const dot = document.createElementNS(ns, 'circle');
        dot.setAttribute('cx', String(i * 12 + 6));
        dot.setAttribute('cy', String(height + 3));
        dot.setAttribute('r', '2.5');
        dot.setAttribute('class', m.rateLimited > 0 ? 'limited' : 'retried');
        svg.appendChild(dot);
      }
      const title = document.createElementNS(ns, 'title');
      title.textContent = t('minute', {
        time: time(m.at),
        inFlight: m.inFlight,
        queued: m.queued,
        started: m.started,
        limited: m.rateLimited,
        retried: m.retried,
      });
      svg.appendChild(title);
    });
    return $(svg);
  }

  function accountSection(account: Account): JQuery {
    const section = $('<div class="twilio-sidebar-account">').attr('data-account', account.id);
    const config = red.nodes.node(account.id);
    $('<h3>')
      .text(`${config?.name || account.name || account.id} ${account.accountSid}`)
      .appendTo(section);
    const total = (key: 'rateLimited' | 'retried' | 'started') => account.minutes.reduce((n, m) => n + m[key], 0);
    $('<div class="twilio-sidebar-queue">')
      .text(t('queue', { queued: account.queue.queued, inFlight: account.queue.inFlight, retrying: account.queue.retrying }))
      .appendTo(section);
    chart(account.minutes).appendTo(section);
    const legend = $('<div class="twilio-sidebar-legend">').appendTo(section);
    for (const [cls, key] of [
      ['in-flight', 'legendInFlight'],
      ['queued', 'legendQueued'],
      ['limited', 'legendLimited'],
      ['retried', 'legendRetried'],
    ])
      $('<span>')
        .append($('<i>').addClass(cls), document.createTextNode(t(key)))
        .appendTo(legend);
    $('<div class="twilio-sidebar-totals">')
      .text(t('totals', { started: total('started'), limited: total('rateLimited'), retried: total('retried') }))
      .appendTo(section);

    $('<h4>').text(t('traffic')).appendTo(section);
    if (account.traffic.length === 0) $('<div class="twilio-sidebar-none">').text(t('none')).appendTo(section);
    else {
      const table = $('<table class="twilio-sidebar-traffic">').appendTo(section);
      for (const entry of account.traffic) {
        const row = $('<tr>').attr('data-sid', entry.sid).attr('title', entry.sid).appendTo(table);
        $('<td class="at">').text(time(entry.at)).appendTo(row);
        $('<td class="direction">')
          .text(`${entry.kind === 'call' ? '☎' : '✉'} ${entry.direction === 'in' ? '←' : '→'}`)
          .attr('data-direction', entry.direction)
          .attr('title', t(entry.direction === 'in' ? 'incoming' : 'outgoing'))
          .appendTo(row);
        $('<td class="numbers">')
          .append(
            $('<span class="from">').text(entry.from),
            ' → ',
            $('<span class="to">').text(entry.to),
            $('<div class="sid">').text(shortSid(entry.sid)),
          )
          .appendTo(row);
        $('<td class="status">').text(entry.status).attr('data-status', entry.status).appendTo(row);
      }
    }

    waitsSection(
      waits.filter((w) => accountOf(w) === account.id),
      t('waits'),
    ).appendTo(section);
    $('<h4>').text(t('refusals')).appendTo(section);
    const r = account.refusals;
    $('<div class="twilio-sidebar-refusals">')
      .text(t('refused', { signature: r.signature, size: r.size, type: r.type, slow: r.slow, other: r.other }))
      .appendTo(section);
    if (account.pollers.length > 0) {
      $('<h4>').text(t('pollers')).appendTo(section);
      for (const poller of account.pollers) {
        const error = poller.lastError
          ? t('pollError', { code: poller.lastError.twilioCode ?? poller.lastError.code, time: time(poller.lastError.at) })
          : '';
        $('<div class="twilio-sidebar-poller">')
          .toggleClass('failing', poller.failing)
          .text(`${poller.number === '*' ? t('everyNumber') : poller.number}: ${t('lastLook', { time: time(poller.lastLookAt) })} ${error}`)
          .appendTo(section);
      }
    }
    return section;
  }

  /** The account a wait's node uses (its config node's id), as the editor has the flow. */
  const accountOf = (wait: Wait) => red.nodes.node(wait.nodeId)?.account;

  /** Open waits (of one account, or those of no account shown above), nearest deadline first. */
  function waitsSection(listed: Wait[], title: string): JQuery {
    const section = $('<div class="twilio-sidebar-waits">');
    $('<h4>').text(title).appendTo(section);
    if (listed.length === 0) $('<div class="twilio-sidebar-none">').text(t('none')).appendTo(section);
    for (const wait of listed) {
      const node = red.nodes.node(wait.nodeId);
      const kind = node?.type === 'twilio-ask' ? 'question' : node?.type === 'twilio-page' ? 'page' : 'wait';
      const row = $('<div class="twilio-sidebar-wait">').attr('data-node', wait.nodeId).appendTo(section);
      $('<span class="kind">').text(t(kind)).appendTo(row);
      $('<a href="#" class="reveal">')
        .text(node?.name || node?.type || wait.nodeId)
        .attr('title', t('reveal'))
        .on('click', (e) => {
          e.preventDefault();
          red.view.reveal(wait.nodeId);
        })
        .appendTo(row);
      $('<span class="deadline">')
        .text(wait.deadline ? t('until', { time: time(wait.deadline) }) : '')
        .appendTo(row);
    }
    return section;
  }

  function render(): void {
    if (!content) return;
    const body = content.find('.twilio-sidebar-body').empty();
    if (!loaded) return void $('<div class="twilio-sidebar-none">').text(t('loading')).appendTo(body);
    if (accounts.size === 0) $('<div class="twilio-sidebar-none">').text(t('noAccounts')).appendTo(body);
    for (const account of accounts.values()) accountSection(account).appendTo(body);
    const elsewhere = waits.filter((w) => !accounts.has(accountOf(w) ?? ''));
    if (elsewhere.length > 0) waitsSection(elsewhere, t('waits')).appendTo(body);
  }

  function load(): void {
    $.getJSON('twilio-activity').done((data: { accounts: Account[]; waits: Wait[] }) => {
      accounts.clear();
      for (const account of data.accounts) accounts.set(account.id, account);
      waits = data.waits;
      loaded = true;
      render();
    });
  }

  red.plugins.registerPlugin('twilio-sidebar', {
    onadd() {
      content = $('<div class="twilio-sidebar">');
      const help = $('<details class="twilio-sidebar-help">').appendTo(content);
      $('<summary>').text(t('about')).appendTo(help);
      $('<p>').text(t('help')).appendTo(help);
      $('<div class="twilio-sidebar-body">').appendTo(content);
      red.sidebar.addTab({
        id: 'twilio',
        label: t('label'),
        name: t('name'),
        iconClass: 'fa fa-phone',
        content,
        onchange: load,
      });
      red.comms.subscribe('twilio/activity/+', (_topic, data) => {
        const account = (data as { account?: Account }).account;
        if (!account) return;
        accounts.set(account.id, account);
        render();
      });
      red.comms.subscribe('twilio/activity-waits', (_topic, data) => {
        waits = (data as { waits?: Wait[] }).waits ?? [];
        render();
      });
      // A deploy may add or remove accounts: the tab looks again.
      red.comms.subscribe('notification/runtime-deploy', load);
      load();
    },
  });
})();
