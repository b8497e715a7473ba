// hush in a browser: one socket per tab, every key sent as typed, text
// fading in place. Text only ever reaches the page through textContent;
// the server has already cleaned it. Nothing is stored: no cookies, no
// storage, no service worker.
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const chunk = 128; // code points per frame; the server reads 1 KiB at most
  const paces = [1, 2, 4];
  const paceWords = { 1: 'Fade: normal', 2: 'Fade: slower', 3: '', 4: 'Fade: slowest' };
  const reduced = matchMedia('(prefers-reduced-motion: reduce)');

  const st = {
    ws: null,
    want: null, // the hello that (re)joins: {op} or {op: 'join', code}
    final: false, // ended, refused or left: no reconnecting
    linger: 5000, // the fade schedule comes from the server with "seated"
    bright: 3500,
    pace: 1,
    seats: 2,
    self: null,
    lanes: new Map(), // peer id → lane
    link: '',
    backoff: 1000,
    retry: 0,
    sent: '', // what of the textarea's value was already sent
    composing: false,
    toldBackspace: false,
    pictures: 'veil', // what this person sees of pictures: veil (until shown), show, off
    veiled: [], // pictures waiting to be shown, oldest first
    live: false, // seated or knocking: frames may be sent
    leaving: false, // asked to leave: waiting for the goodbye
    lobby: false, // in the lobby: people listed, lanes only for who typed lately
    people: new Map(), // lobby: peer id → {peer, ignored}
    asking: null, // lobby: this person's ask {id, text, until, timer}
    asks: new Map(), // lobby: asks waiting on this person, id → banner
    group: false,
    locked: false,
    knocks: new Map(), // knocks at this room, oldest first: id → text
    code: '', // the room knocked at
  };

  // ---- the start page and the room page ----

  function showStart(problem, again) {
    $('room').hidden = true;
    $('door').hidden = true;
    $('start').hidden = false;
    $('problem').textContent = problem || '';
    if (again) $('new').focus();
  }

  function showRoom() {
    $('start').hidden = true;
    $('door').hidden = true;
    $('room').hidden = false;
    $('type').focus();
  }

  // showDoor is the locked room's door: refused with the offer to knock
  // (Knock and Leave), or knocking (Leave).
  function showDoor(text, offer) {
    $('start').hidden = true;
    $('room').hidden = true;
    $('door').hidden = false;
    $('doortext').textContent = text;
    $('knock').hidden = !offer;
    (offer ? $('knock') : $('doorleave')).focus();
    announce(text);
  }

  function begin(op) {
    history.replaceState(null, '', op === 'lobby' ? '/lobby' : '/');
    st.want = { op };
    st.final = false;
    showRoom();
    connect();
  }

  // ---- the socket ----

  function connect() {
    clearTimeout(st.retry);
    if (st.ws || st.final) return;
    const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws');
    st.ws = ws;
    ws.onopen = () => ws.send(JSON.stringify(Object.assign({ t: 'hello' }, st.want)));
    ws.onmessage = (e) => {
      if (st.ws !== ws) return;
      const f = JSON.parse(e.data);
      // The server asks whether this tab still reads: answer with its nonce.
      if (f.t === 'ping') ws.send(JSON.stringify({ t: 'pong', s: f.s }));
      else handle(f);
    };
    ws.onclose = () => {
      if (st.ws !== ws) return;
      st.ws = null;
      if (st.leaving) finish('', true);
      else offline();
    };
  }

  function send(frame) {
    if (st.ws && st.ws.readyState === WebSocket.OPEN && st.live) st.ws.send(JSON.stringify(frame));
  }

  // offline: say so, keep nothing typed meanwhile, and try again with
  // backoff (and at once when the tab is shown again or the network is back).
  function offline() {
    st.self = null;
    st.live = false;
    $('type').value = '';
    st.sent = '';
    if (st.final) return;
    $('type').disabled = true;
    notice('Connection lost. Reconnecting…');
    st.retry = setTimeout(connect, st.backoff);
    st.backoff = Math.min(st.backoff * 2, 30000);
  }

  function retryNow() {
    if (!st.ws && !st.final && st.want && document.visibilityState === 'visible') connect();
  }
  document.addEventListener('visibilitychange', retryNow);
  addEventListener('online', retryNow);

  function finish(text, startOwn) {
    st.final = true;
    st.self = null;
    st.live = false;
    st.leaving = false;
    clearTimeout(st.leaveTimer);
    endLobby();
    st.knocks.clear();
    if (st.ws) {
      const ws = st.ws;
      st.ws = null;
      ws.close();
    }
    clearTimeout(st.retry);
    if (text) announce(text);
    showStart(text, startOwn);
  }

  // ---- what the server says ----

  function handle(f) {
    switch (f.t) {
      case 'seated':
        seated(f);
        break;
      case 'joined':
        if (st.lobby) {
          st.people.set(f.p.id, { peer: f.p, ignored: false });
          who();
          break;
        }
        addLane(f.p, false);
        announce(f.p.name + ' joined.');
        notice(f.p.name + ' joined.');
        who();
        break;
      case 'left': {
        if (st.lobby) {
          st.people.delete(f.id);
          dropAsk(f.id);
          dropLane(f.id);
          who();
          break;
        }
        const lane = st.lanes.get(f.id);
        if (lane) {
          flushWord(lane);
          announce(lane.peer.name + ' left.');
          notice(lane.peer.name + ' left.');
          lane.el.remove();
          st.lanes.delete(f.id);
        }
        who();
        break;
      }
      case 'typed':
        addText(laneOf(f.id), f.s);
        break;
      case 'nl':
        addText(laneOf(f.id), '\n');
        break;
      case 'own':
        if (st.self) addText(laneOf(st.self.id), f.s);
        break;
      case 'picture':
        showPicture(f);
        break;
      case 'hint':
        notice(f.s);
        break;
      case 'note':
        notice(f.s);
        announce(f.s);
        break;
      case 'asking':
        startAsking(f);
        break;
      case 'noanswer':
        if (st.asking && st.asking.id === f.id) stopAsking();
        notice(f.s);
        announce(f.s);
        break;
      case 'asked':
        addAsk(f);
        break;
      case 'askended':
        dropAsk(f.id);
        break;
      case 'locked':
        st.locked = f.locked;
        showLock();
        notice(f.s);
        announce(f.s);
        break;
      case 'knocked':
        st.knocks.delete(f.p.id);
        st.knocks.set(f.p.id, f.s);
        showKnocks();
        announce(f.s);
        break;
      case 'knockended':
        st.knocks.delete(f.id);
        showKnocks();
        break;
      case 'knocking':
        st.live = true;
        st.backoff = 1000;
        showDoor(f.s, false);
        break;
      case 'refused':
        if (f.knock) {
          // A locked room: offer to knock. This socket is done; Knock
          // opens another.
          st.final = true;
          if (st.ws) {
            const ws = st.ws;
            st.ws = null;
            ws.close();
          }
          showDoor(f.s, true);
          break;
        }
        finish(f.s, f.own);
        break;
      case 'ended':
        finish(f.s, true);
        break;
    }
  }

  // seated shows where the person sits now: a room, or the lobby. It
  // comes first, and again after a move (an ask accepted) or a let-in.
  function seated(f) {
    st.self = f.p;
    st.live = true;
    st.seats = f.seats;
    st.linger = f.linger;
    st.bright = f.bright;
    st.link = f.link || '';
    st.backoff = 1000;
    st.lobby = !!f.lobby;
    st.group = !!f.group;
    st.locked = !!f.locked;
    st.knocks.clear();
    endLobby();
    if (st.lobby) {
      st.want = { op: 'lobby' };
      history.replaceState(null, '', '/lobby');
      for (const p of f.others || []) st.people.set(p.id, { peer: p, ignored: false });
    } else {
      st.want = { op: 'join', code: f.code };
      st.code = f.code; // locked while away, it is knocked at
      history.replaceState(null, '', '/' + f.code);
    }
    showRoom();
    $('lanes').replaceChildren();
    st.lanes.clear();
    if (!st.lobby) {
      for (const p of f.others || []) addLane(p, false);
      addLane(f.p, true);
    }
    $('link').textContent = st.link;
    $('ssh').textContent = f.ssh || '';
    for (const id of ['copy', 'picture', 'pictures', 'slower']) $(id).hidden = st.lobby;
    $('showpic').hidden = true;
    $('who').hidden = st.lobby;
    $('title').hidden = !st.lobby;
    $('people').hidden = !st.lobby;
    showLock();
    showKnocks();
    $('type').placeholder = st.lobby ? 'Type: everyone here sees every key as you press it' : 'Type: every key is sent as you press it';
    $('type').disabled = false;
    $('type').value = '';
    st.sent = '';
    notice(f.s || '');
    who();
    $('type').focus();
    if (f.s) announce(f.s);
    else announce('You are ' + (st.lobby ? 'in the lobby' : 'in the room') + ' as ' + f.p.name + '.');
  }

  // ---- the lobby: people listed, asks made and waiting ----

  // laneOf is the lane of a person in the room; in the lobby it is made
  // when they type, for as long as their text shows.
  function laneOf(id) {
    let lane = st.lanes.get(id);
    if (lane || !st.lobby) return lane;
    const own = st.self && id === st.self.id;
    const who = own ? { peer: st.self } : st.people.get(id);
    if (!who || who.ignored) return null;
    addLane(who.peer, own);
    lane = st.lanes.get(id);
    return lane;
  }

  // quietLater drops a lobby lane once its text has faded.
  function quietLater(lane) {
    if (!st.lobby) return;
    clearTimeout(lane.quiet);
    lane.quiet = setTimeout(() => dropLane(lane.peer.id), st.linger * st.pace + 1000);
  }

  function dropLane(id) {
    const lane = st.lanes.get(id);
    if (!lane) return;
    flushWord(lane);
    clearTimeout(lane.quiet);
    lane.el.remove();
    st.lanes.delete(id);
  }

  function endLobby() {
    stopAsking();
    for (const id of [...st.asks.keys()]) dropAsk(id);
    st.people.clear();
    $('peoplelist').replaceChildren();
  }

  function startAsking(f) {
    stopAsking();
    const a = { id: f.p.id, text: f.s, until: Date.now() + f.wait };
    const tick = () => {
      const left = Math.max(0, Math.ceil((a.until - Date.now()) / 1000));
      $('askingtext').textContent = a.text + ' (' + left + ' s)';
      if (left <= 0) stopAsking();
    };
    a.timer = setInterval(tick, 1000);
    st.asking = a;
    tick();
    $('asking').hidden = false;
    announce(f.s);
    who();
  }

  function stopAsking() {
    if (!st.asking) return;
    clearInterval(st.asking.timer);
    st.asking = null;
    $('asking').hidden = true;
    who();
  }

  // addAsk shows an ask waiting on this person until it ends: it does not
  // fade.
  function addAsk(f) {
    dropAsk(f.p.id);
    const li = document.createElement('li');
    li.dataset.id = String(f.p.id);
    const text = document.createElement('span');
    text.textContent = f.s;
    const yes = document.createElement('button');
    yes.type = 'button';
    yes.className = 'quiet accept';
    yes.textContent = 'Accept';
    yes.addEventListener('click', () => send({ t: 'accept', id: f.p.id }));
    const no = document.createElement('button');
    no.type = 'button';
    no.className = 'quiet decline';
    no.textContent = 'Decline';
    no.addEventListener('click', () => {
      send({ t: 'decline', id: f.p.id });
      dropAsk(f.p.id);
      ta.focus();
    });
    li.append(text, ' ', yes, ' ', no);
    $('asks').append(li);
    // The server ends it when its wait is over; this is in case it cannot.
    li.expire = setTimeout(() => dropAsk(f.p.id), f.wait + 5000);
    st.asks.set(f.p.id, li);
    announce(f.s);
  }

  function dropAsk(id) {
    const li = st.asks.get(id);
    if (!li) return;
    clearTimeout(li.expire);
    li.remove();
    st.asks.delete(id);
  }

  function button(label, cls, onClick) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'quiet ' + cls;
    b.textContent = label;
    b.addEventListener('click', onClick);
    return b;
  }

  // peopleList draws the lobby's people, each with Ask and Ignore.
  function peopleList() {
    const list = $('peoplelist');
    list.replaceChildren();
    const row = (p, own, ignored) => {
      const li = document.createElement('li');
      li.dataset.color = String(p.color);
      li.dataset.id = String(p.id);
      li.append(nameOf('span', p, (p.badge ? ' ' + p.badge : '') + whoTag(p, own)));
      if (ignored) li.classList.add('ignored');
      if (!own && !ignored) {
        const asking = st.asking && st.asking.id === p.id;
        const ask = button('Ask', 'ask', () => {
          send({ t: 'ask', id: p.id });
          ta.focus();
        });
        ask.disabled = asking;
        ask.setAttribute('aria-label', 'Ask ' + p.name + ' for a private room');
        const ignore = button('Ignore', 'ignore', () => {
          send({ t: 'ignore', id: p.id });
          const who = st.people.get(p.id);
          if (who) who.ignored = true;
          dropLane(p.id);
          dropAsk(p.id);
          peopleList();
          ta.focus();
        });
        ignore.setAttribute('aria-label', 'Ignore ' + p.name);
        li.append(ask, ignore);
      }
      list.append(li);
    };
    if (st.self) row(st.self, true, false);
    for (const who of st.people.values()) row(who.peer, false, who.ignored);
  }

  // ---- a group's lock, and knocks at it ----

  function showLock() {
    const b = $('lock');
    b.hidden = st.lobby || !st.group;
    b.textContent = st.locked ? 'Lock: on' : 'Lock: off';
    b.setAttribute('aria-pressed', String(st.locked));
  }

  // showKnocks shows the knocks as one line: the oldest, with a count
  // of the others.
  function showKnocks() {
    const first = st.knocks.entries().next().value;
    $('knocks').hidden = !first;
    if (!first) return;
    $('knocks').dataset.id = String(first[0]);
    $('knocktext').textContent = first[1] + (st.knocks.size > 1 ? ' (+' + (st.knocks.size - 1) + ')' : '');
  }

  // ---- lanes: one per person, text fading in place ----

  // nameOf is a person's name as a tagName element, tag after it.
  function nameOf(tagName, p, tag) {
    const name = document.createElement(tagName);
    name.className = 'name';
    name.textContent = p.name;
    const t = document.createElement('span');
    t.className = 'tag';
    t.textContent = tag;
    name.append(t);
    return name;
  }

  // whoTag says whether a person is a guest, and whether it is you.
  function whoTag(p, own) {
    return (p.guest ? ' · guest' : '') + (own ? ' · you' : '');
  }

  function addLane(p, own) {
    const el = document.createElement('div');
    el.className = 'lane';
    el.dataset.color = String(p.color);
    el.dataset.id = String(p.id);
    const name = nameOf('div', p, whoTag(p, own));
    const text = document.createElement('div');
    text.className = 'text';
    el.append(name, text);
    const lane = { peer: p, el, text, line: null, word: null, heard: '' };
    newLine(lane);
    if (own) {
      $('lanes').append(el);
    } else {
      $('lanes').insertBefore(el, $('lanes').querySelector('.lane.own'));
    }
    if (own) el.classList.add('own');
    st.lanes.set(p.id, lane);
  }

  function newLine(lane) {
    const line = document.createElement('div');
    line.className = 'line';
    lane.text.append(line);
    const old = lane.line;
    lane.line = line;
    lane.word = null;
    if (old) sweep(lane, old);
    while (lane.text.childElementCount > 60) lane.text.firstElementChild.remove();
  }

  // addText shows text as it arrives. A word fades as one, on the clock of
  // its newest letter, so it stays readable to the end; spaces and
  // symbols fade on their own. Nothing moves as things fade.
  function addText(lane, s) {
    if (!lane) return;
    for (const ch of s) {
      if (ch === '\n') {
        flushWord(lane);
        newLine(lane);
        continue;
      }
      // Letters, digits and what joins or marks them belong to a word;
      // so does whatever follows a zero-width joiner.
      const joined = lane.word && lane.word.textContent.endsWith('\u200d');
      if (joined || /[\p{L}\p{N}\p{M}\u200d\ufe0f\u{1F3FB}-\u{1F3FF}]/u.test(ch)) {
        if (!lane.word || lane.word.textContent.length >= 48) {
          lane.word = unit(lane, '');
        }
        lane.word.textContent += ch;
        fade(lane, lane.word);
        lane.heard += ch;
        continue;
      }
      lane.word = null;
      const u = unit(lane, ch);
      fade(lane, u);
      if (ch === ' ') flushWord(lane);
      else lane.heard += ch;
    }
    hushLater(lane);
    quietLater(lane);
  }

  function unit(lane, s) {
    const span = document.createElement('span');
    span.textContent = s;
    lane.line.append(span);
    return span;
  }

  function fade(lane, el) {
    if (el.fading) el.fading.cancel();
    el.classList.remove('gone');
    const bright = Math.min(Math.max(st.bright / st.linger, 0), 1); // the share spent at full strength
    const frames = reduced.matches
      ? [{ opacity: 1 }, { opacity: 1, offset: bright }, { opacity: 0.5, offset: bright }, { opacity: 0.5, offset: 0.999 }, { opacity: 0 }]
      : [{ opacity: 1 }, { opacity: 1, offset: bright }, { opacity: 0 }];
    const a = el.animate(frames, { duration: st.linger * st.pace, fill: 'forwards' });
    el.fading = a;
    a.onfinish = () => {
      el.classList.add('gone');
      sweep(lane, el.parentNode);
    };
  }

  // sweep drops a line once all of it has vanished and it is no longer
  // being typed on.
  function sweep(lane, line) {
    if (!line || line === lane.line || !line.parentNode) return;
    for (const u of line.children) if (!u.classList.contains('gone')) return;
    line.remove();
  }

  function repace() {
    for (const el of document.querySelectorAll('.line span')) {
      if (el.fading && el.fading.playState === 'running') el.fading.effect.updateTiming({ duration: st.linger * st.pace });
    }
  }

  // ---- pictures: veiled until shown, then fading like words ----

  // A picture arrives as its small RGB pixels. It is drawn on a canvas in
  // its sender's lane, veiled (a few blocks of its average colours) until
  // this person shows it; then it fades on the room's schedule. One's own
  // is shown at once. Nothing is kept: the canvas goes with the fade.
  function showPicture(f) {
    const lane = st.lanes.get(f.id);
    if (!lane) return;
    const own = st.self && f.id === st.self.id;
    const name = lane.peer.name;
    if (lane.pic) dropPicture(lane.pic);
    const box = document.createElement('div');
    box.className = 'pic';
    lane.el.insertBefore(box, lane.text);
    lane.pic = box;
    const caption = document.createElement('span');
    caption.className = 'caption';
    box.append(caption);
    if (!own) announce(name + ' sent a picture.' + (st.pictures === 'veil' ? ' Show picture shows it.' : ''));
    if (st.pictures === 'off') {
      caption.textContent = '[picture from ' + name + ']';
      fadeAway(box);
      return;
    }
    const raw = atob(f.px);
    const canvas = document.createElement('canvas');
    canvas.width = f.w;
    canvas.height = f.h;
    box.prepend(canvas);
    const show = () => {
      if (!box.isConnected || !box.classList.contains('veiled')) return;
      clearTimeout(box.expire);
      st.veiled = st.veiled.filter((b) => b !== box);
      box.classList.remove('veiled');
      caption.textContent = '';
      paint(canvas, raw, f.w, f.h, false);
      fadeAway(box);
      showPicButton();
    };
    box.classList.add('veiled');
    box.show = show;
    if (own || st.pictures === 'show') {
      show();
      return;
    }
    paint(canvas, raw, f.w, f.h, true);
    caption.textContent = name + ' sent a picture · click to show it';
    canvas.addEventListener('click', (e) => {
      e.stopPropagation();
      show();
    });
    st.veiled.push(box);
    box.expire = setTimeout(() => dropPicture(box), 30000);
    showPicButton();
  }

  // paint draws RGB pixels on canvas, or, veiled, 4×2 blocks of their
  // average colours.
  function paint(canvas, raw, w, h, veil) {
    const img = canvas.getContext('2d').createImageData(w, h);
    const at = (x, y, c) => raw.charCodeAt((y * w + x) * 3 + c);
    const bw = Math.ceil(w / 4);
    const bh = Math.ceil(h / 2);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const o = (y * w + x) * 4;
        for (let c = 0; c < 3; c++) {
          if (!veil) {
            img.data[o + c] = at(x, y, c);
            continue;
          }
          const x0 = Math.floor(x / bw) * bw;
          const y0 = Math.floor(y / bh) * bh;
          let sum = 0;
          let n = 0;
          for (let yy = y0; yy < Math.min(y0 + bh, h); yy += 2) {
            for (let xx = x0; xx < Math.min(x0 + bw, w); xx += 2) {
              sum += at(xx, yy, c);
              n++;
            }
          }
          img.data[o + c] = sum / n;
        }
        img.data[o + 3] = 255;
      }
    }
    canvas.getContext('2d').putImageData(img, 0, 0);
  }

  function fadeAway(box) {
    const bright = Math.min(Math.max(st.bright / st.linger, 0), 1);
    const a = box.animate([{ opacity: 1 }, { opacity: 1, offset: bright }, { opacity: 0 }], { duration: st.linger * st.pace, fill: 'forwards' });
    a.onfinish = () => dropPicture(box);
  }

  function dropPicture(box) {
    clearTimeout(box.expire);
    st.veiled = st.veiled.filter((b) => b !== box);
    box.remove();
    for (const lane of st.lanes.values()) if (lane.pic === box) lane.pic = null;
    showPicButton();
  }

  function showPicButton() {
    $('showpic').hidden = st.veiled.length === 0;
  }

  // sendPicture shrinks a file to at most 256 pixels on its long side on a
  // canvas (which drops EXIF and GPS: only pixels are re-encoded) and sends
  // it in a binary frame. The server checks it again as from anyone.
  async function sendPicture(file) {
    if (!st.ws || st.ws.readyState !== WebSocket.OPEN || !st.self) return;
    if (!/^image\//.test(file.type)) {
      notice('Only PNG, JPEG, GIF or WebP pictures.');
      return;
    }
    try {
      const bmp = await createImageBitmap(file, { imageOrientation: 'from-image' });
      const scale = Math.min(1, 256 / Math.max(bmp.width, bmp.height));
      const canvas = document.createElement('canvas');
      canvas.width = Math.max(1, Math.round(bmp.width * scale));
      canvas.height = Math.max(1, Math.round(bmp.height * scale));
      canvas.getContext('2d').drawImage(bmp, 0, 0, canvas.width, canvas.height);
      bmp.close();
      const blob = await new Promise((done) => canvas.toBlob(done, 'image/jpeg', 0.85));
      if (!blob || blob.size > 512 * 1024) {
        notice('That picture is too big (512 KB at most).');
        return;
      }
      if (st.ws && st.ws.readyState === WebSocket.OPEN) st.ws.send(await blob.arrayBuffer());
    } catch {
      notice('That picture could not be read.');
    }
  }

  function imageIn(items) {
    for (const f of items || []) if (f && /^image\//.test(f.type)) return f;
    return null;
  }

  // ---- words for screen readers: words, not keystrokes ----

  function flushWord(lane) {
    clearTimeout(lane.hush);
    const w = lane.heard.trim();
    lane.heard = '';
    if (w) announce((lane.peer.id === (st.self && st.self.id) ? 'You' : lane.peer.name) + ': ' + w);
  }

  function hushLater(lane) {
    clearTimeout(lane.hush);
    lane.hush = setTimeout(() => flushWord(lane), 1500);
  }

  function announce(text) {
    const log = $('log');
    const p = document.createElement('p');
    p.textContent = text;
    log.append(p);
    while (log.childElementCount > 20) log.firstElementChild.remove();
  }

  function notice(text) {
    $('notice').textContent = text;
  }

  function who() {
    if (st.lobby) {
      $('title').textContent = 'hush · lobby · ' + (st.people.size + 1) + ' here';
      peopleList();
      $('invite').hidden = true;
      return;
    }
    const list = $('who');
    list.replaceChildren();
    for (const lane of st.lanes.values()) {
      const li = document.createElement('li');
      li.dataset.color = String(lane.peer.color);
      li.textContent = lane.peer.name + (lane.peer.guest ? ' (guest)' : '') + (st.self && lane.peer.id === st.self.id ? ' (you)' : '');
      list.append(li);
    }
    $('invite').hidden = !st.self || st.lanes.size >= st.seats;
  }

  // ---- typing: a plain textarea, read through input and composition
  // events, so phone keyboards (which send keydown 229) work too ----

  const ta = $('type');

  function sendText(s) {
    const cps = Array.from(s);
    for (let i = 0; i < cps.length; i += chunk) send({ t: 'type', s: cps.slice(i, i + chunk).join('') });
  }

  function sendTyped(s) {
    const parts = s.split(/\r\n|\r|\n/);
    parts.forEach((p, i) => {
      if (i > 0) send({ t: 'nl' });
      if (p) sendText(p);
    });
  }

  // take sends what the textarea gained since last time. What was sent is
  // never taken back: there is no backspace.
  function take() {
    const v = ta.value;
    if (v.startsWith(st.sent)) {
      if (v.length > st.sent.length) sendTyped(v.slice(st.sent.length));
    } else {
      // A keyboard rewrote what it had shown (autocorrect): send only what
      // is new after the part both share.
      let i = 0;
      while (i < v.length && i < st.sent.length && v[i] === st.sent[i]) i++;
      if (v.length > st.sent.length) sendTyped(v.slice(Math.max(i, st.sent.length)));
    }
    st.sent = v;
    if (!st.composing) {
      ta.value = '';
      st.sent = '';
    }
  }

  ta.addEventListener('beforeinput', (e) => {
    if (!st.self) {
      e.preventDefault();
      return;
    }
    switch (e.inputType) {
      case 'insertLineBreak':
      case 'insertParagraph':
        e.preventDefault();
        take();
        send({ t: 'nl' });
        return;
      case 'insertFromPaste':
      case 'insertFromDrop':
        return; // the paste event sends it, once
    }
    if (e.inputType.startsWith('delete') || e.inputType.startsWith('history')) {
      e.preventDefault();
      noBackspace();
    }
  });

  ta.addEventListener('input', () => {
    if (!st.self) {
      ta.value = '';
      return;
    }
    take();
  });

  ta.addEventListener('compositionstart', () => {
    st.composing = true;
  });
  ta.addEventListener('compositionend', () => {
    st.composing = false;
    if (st.self) take();
  });

  ta.addEventListener('keydown', (e) => {
    if (e.isComposing || e.keyCode === 229) return;
    if (e.key === 'Enter') {
      e.preventDefault();
      take();
      send({ t: 'nl' });
    } else if (e.key === 'Backspace' || e.key === 'Delete') {
      e.preventDefault();
      noBackspace();
    }
  });

  ta.addEventListener('paste', (e) => {
    e.preventDefault();
    if (!st.self) return;
    const file = imageIn(e.clipboardData && e.clipboardData.files);
    if (file) {
      sendPicture(file);
      return;
    }
    const s = (e.clipboardData && e.clipboardData.getData('text/plain')) || '';
    const cps = Array.from(s);
    if (cps.length === 0) return;
    for (let i = 0; i < cps.length && i < 20000; i += chunk) {
      send({ t: 'paste', s: cps.slice(i, i + chunk).join(''), more: i + chunk < cps.length && i + chunk < 20000 });
    }
  });

  function noBackspace() {
    if (st.toldBackspace) return;
    st.toldBackspace = true;
    notice('There is no backspace here: what you type is already on their screen. It fades soon enough.');
  }

  // ---- buttons ----

  $('new').addEventListener('click', () => begin('new'));
  $('group').addEventListener('click', () => begin('group'));
  $('lobby').addEventListener('click', () => begin('lobby'));
  // Leaving waits a moment for the server's goodbye, which says where
  // one was and whether the room is still open.
  function leave() {
    if (!st.ws || !st.live) {
      finish('', true);
      return;
    }
    st.leaving = true;
    st.final = true;
    send({ t: 'leave' });
    st.leaveTimer = setTimeout(() => finish('', true), 3000);
  }
  $('leave').addEventListener('click', leave);
  $('doorleave').addEventListener('click', leave);
  $('knock').addEventListener('click', () => {
    st.want = { op: 'knock', code: st.code };
    st.final = false;
    $('knock').hidden = true;
    connect();
  });
  $('cancelask').addEventListener('click', () => {
    send({ t: 'cancel' });
    ta.focus();
  });
  $('lock').addEventListener('click', () => {
    send({ t: st.locked ? 'unlock' : 'lock' });
    ta.focus();
  });
  for (const [id, t] of [['letin', 'letin'], ['turnaway', 'turnaway']]) {
    $(id).addEventListener('click', () => {
      const knocker = Number($('knocks').dataset.id);
      send({ t, id: knocker });
      st.knocks.delete(knocker);
      showKnocks();
      ta.focus();
    });
  }
  $('copy').addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(st.link);
      notice('Link copied.');
    } catch {
      notice('Copy this link: ' + st.link);
    }
  });
  $('slower').addEventListener('click', () => {
    st.pace = paces[(paces.indexOf(st.pace) + 1) % paces.length];
    $('slower').textContent = paceWords[st.pace];
    $('slower').setAttribute('aria-pressed', String(st.pace > 1));
    repace();
    ta.focus();
  });
  $('lanes').addEventListener('click', () => ta.focus());
  $('picture').addEventListener('click', () => $('picfile').click());
  $('picfile').addEventListener('change', () => {
    const file = imageIn($('picfile').files);
    $('picfile').value = '';
    if (file) sendPicture(file);
    ta.focus();
  });
  $('showpic').addEventListener('click', () => {
    const box = st.veiled[st.veiled.length - 1];
    if (box) box.show();
    ta.focus();
  });
  const pictureWords = { veil: 'Pictures: veiled', show: 'Pictures: shown', off: 'Pictures: off' };
  $('pictures').addEventListener('click', () => {
    st.pictures = { veil: 'show', show: 'off', off: 'veil' }[st.pictures];
    $('pictures').textContent = pictureWords[st.pictures];
    ta.focus();
  });
  document.addEventListener('dragover', (e) => e.preventDefault());
  document.addEventListener('drop', (e) => {
    e.preventDefault();
    const file = imageIn(e.dataTransfer && e.dataTransfer.files);
    if (file) sendPicture(file);
  });

  // ---- start ----

  const code = decodeURIComponent(location.pathname.slice(1));
  if (code.toLowerCase() === 'lobby') {
    st.want = { op: 'lobby' };
    showRoom();
    connect();
  } else if (code) {
    st.code = code;
    st.want = { op: 'join', code };
    showRoom();
    connect();
  } else {
    showStart('', false);
  }
})();
