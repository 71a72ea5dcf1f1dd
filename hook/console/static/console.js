// modgate console: keyboard shortcuts, new held messages as they arrive,
// the selection count, and focus kept on a message after htmx replaces it.
// Every page works without this file.
(function () {
  'use strict';

  var announcer = document.getElementById('announce');

  // announce tells screen readers what just happened.
  function announce(text) {
    if (!announcer) return;
    announcer.textContent = '';
    window.setTimeout(function () { announcer.textContent = text; }, 30);
  }

  function cards() { return Array.prototype.slice.call(document.querySelectorAll('.item')); }

  function currentCard() {
    var a = document.activeElement;
    return a && a.closest ? a.closest('.item') : null;
  }

  function focusCard(card) {
    if (!card) return;
    card.focus();
    card.scrollIntoView({ block: 'nearest' });
  }

  function move(step) {
    var list = cards();
    if (!list.length) return;
    var i = list.indexOf(currentCard());
    if (i < 0) i = step > 0 ? 0 : list.length - 1;
    else i = Math.min(Math.max(i + step, 0), list.length - 1);
    focusCard(list[i]);
  }

  function typing(el) {
    if (!el || !el.closest) return false;
    if (el.closest('textarea, select, [contenteditable]')) return true;
    return el.tagName === 'INPUT' && ['checkbox', 'radio', 'button', 'submit'].indexOf(el.type) < 0;
  }

  document.addEventListener('keydown', function (e) {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey) return;
    if (typing(e.target)) {
      if (e.key === 'Escape') {
        var back = e.target.closest('.item');
        if (back) { focusCard(back); e.preventDefault(); }
      }
      return;
    }
    var card = currentCard(), el;
    switch (e.key) {
      case 'j': move(1); break;
      case 'k': move(-1); break;
      case 'a':
        el = card && card.querySelector('[data-decide="approve"]');
        if (!el) return;
        el.click();
        break;
      case 'r':
        el = card && card.querySelector('.reject input[name="reason"]');
        if (!el) return;
        el.focus();
        announce('Type the reason, then press Enter to reject.');
        break;
      case 'x':
        el = card && card.querySelector('input.select');
        if (!el) return;
        el.click();
        break;
      case 'o':
        el = card && card.querySelector('a.details');
        if (!el) return;
        el.click();
        break;
      default:
        return;
    }
    e.preventDefault();
  });

  // Selection.
  var bulk = document.getElementById('bulk');
  function updateSelected() {
    var n = document.querySelectorAll('input.select:checked').length;
    document.querySelectorAll('[data-selected-count]').forEach(function (el) { el.textContent = String(n); });
  }
  document.addEventListener('change', function (e) {
    if (e.target.matches && e.target.matches('input.select')) updateSelected();
  });
  document.addEventListener('click', function (e) {
    var all = e.target.closest && e.target.closest('[data-select-all]');
    if (!all) return;
    var boxes = document.querySelectorAll('input.select');
    var every = Array.prototype.every.call(boxes, function (b) { return b.checked; });
    boxes.forEach(function (b) { b.checked = !every; });
    updateSelected();
  });
  if (bulk) {
    bulk.addEventListener('submit', function (e) {
      if (!document.querySelector('input.select:checked')) {
        e.preventDefault();
        e.stopImmediatePropagation();
        announce('Select at least one message first.');
        var status = document.getElementById('bulk-status');
        if (status) status.textContent = 'Select at least one message first.';
      }
    }, true);
  }

  // After htmx replaces a card that had the focus, the new card takes it
  // (unless the moderator has moved on meanwhile) and its state is read out.
  var following = null;
  document.addEventListener('htmx:beforeRequest', function (e) {
    var card = e.target.closest && e.target.closest('.item');
    if (card && card.contains(document.activeElement)) following = card.id;
  });
  document.addEventListener('htmx:afterSettle', function () {
    if (following) {
      var card = document.getElementById(following);
      following = null;
      if (card) {
        var lost = !document.activeElement || document.activeElement === document.body;
        if (lost) card.focus({ preventScroll: true });
        var state = card.querySelector('[data-state-text]');
        var notice = card.querySelector('.notice');
        announce((notice ? notice.textContent + ' ' : '') + (state ? state.textContent : ''));
      }
    }
    updateSelected();
  });
  // An error that is not a card (a refusal, a bad field, modgate
  // unavailable) is shown where the request came from, and read out.
  document.addEventListener('htmx:responseError', function (e) {
    var xhr = e.detail.xhr;
    if (xhr.status === 401) {
      window.location.assign('/console/login?next=' + encodeURIComponent(window.location.pathname + window.location.search));
      return;
    }
    if (e.detail.shouldSwap && xhr.getResponseHeader('HX-Reswap') !== 'none') return; // a card: it says what happened
    var text = xhr.responseText || xhr.statusText || 'The request failed.';
    var card = e.detail.elt.closest && e.detail.elt.closest('.item');
    var where = card ? card.querySelector('.actions') : document.getElementById('bulk-status');
    if (card && where) {
      var notice = card.querySelector('.notice') || document.createElement('p');
      notice.className = 'notice';
      notice.setAttribute('role', 'alert');
      notice.textContent = text;
      if (!notice.parentNode) where.parentNode.insertBefore(notice, where);
    } else if (where) {
      where.textContent = text;
    }
    announce(text);
  });
  document.addEventListener('htmx:sendError', function () { announce('modgate did not answer: check your connection.'); });

  // Leaving the page (a link, sign-out) stops what the page does in the
  // background, so that it does not send the browser elsewhere after.
  var leaving = false;
  window.addEventListener('beforeunload', function () { leaving = true; });

  // New held messages appear at the top of the first page of the queue.
  var list = document.getElementById('queue-items');
  if (list && list.dataset.fresh) {
    var every = Number(document.body.dataset.pollMs) || 5000;
    var since = list.dataset.since;
    var poll = function () {
      var url = list.dataset.fresh + (list.dataset.fresh.indexOf('?') < 0 ? '?' : '&') + 'since=' + encodeURIComponent(since);
      if (leaving) return;
      fetch(url, { credentials: 'same-origin', headers: { 'X-Requested-With': 'modgate-console' } })
        .then(function (r) {
          if (leaving) return null;
          if (r.status === 401) {
            window.location.assign('/console/login?next=' + encodeURIComponent(window.location.pathname + window.location.search));
            return null;
          }
          if (!r.ok) return null;
          var open = r.headers.get('X-Modgate-Open');
          if (open !== null) document.querySelectorAll('[data-open-count]').forEach(function (el) { el.textContent = open; });
          since = r.headers.get('X-Modgate-Since') || since;
          return r.text();
        })
        .then(function (html) {
          if (!html) return;
          var tpl = document.createElement('template');
          tpl.innerHTML = html;
          var fresh = Array.prototype.filter.call(tpl.content.children, function (li) {
            var card = li.querySelector('.item');
            return card && !document.getElementById(card.id);
          });
          if (!fresh.length) return;
          var first = list.firstElementChild;
          fresh.forEach(function (li) {
            list.insertBefore(li, first);
            if (window.htmx) window.htmx.process(li);
          });
          var empty = document.querySelector('[data-empty]');
          if (empty) empty.remove();
          announce(fresh.length === 1 ? '1 new held message.' : fresh.length + ' new held messages.');
        })
        .catch(function () {})
        .then(function () { if (!leaving) window.setTimeout(poll, every); });
    };
    window.setTimeout(poll, every);
    // Back to the page from the browser's cache: look again.
    window.addEventListener('pageshow', function (e) {
      if (e.persisted && leaving) {
        leaving = false;
        poll();
      }
    });
  }

  // The try page brings its verdict into view.
  var verdict = document.querySelector('[data-focus]');
  if (verdict) verdict.focus();
})();
