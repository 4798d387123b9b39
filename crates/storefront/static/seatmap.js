// The event page's seat map: adds up the buyer's choice (5 % tax, half-up, in minor units: no
// floating point), keeps the map live from the seat map's stream (a seat someone else takes
// greys out, and is taken out of the choice with a spoken notice), and moves between seats with
// the arrow keys. Without this script the map is still a form of checkboxes that works.
(() => {
  'use strict';
  const form = document.getElementById('seatmap');
  if (!form) return;
  const prices = form.dataset.prices.split(',').map(Number);
  const currency = form.dataset.currency;
  const max = Number(form.dataset.max);
  const summary = document.getElementById('summary');
  const announce = document.getElementById('announce');
  const available = document.getElementById('available');
  const live = document.getElementById('live');

  const money = (minor) => `${Math.floor(minor / 100)}.${String(minor % 100).padStart(2, '0')}`;
  const seat = (position) => document.getElementById(`s${position}`);
  const chosen = () => Array.from(form.querySelectorAll('input[name=seat]:checked'));
  const nameOf = (input) => {
    const row = input.closest('.row');
    const label = form.querySelector(`label[for="${input.id}"]`);
    return `${row ? row.getAttribute('aria-label').split(',').slice(0, 2).join(',') : ''} seat ${label ? label.textContent : ''}`;
  };

  function update() {
    const seats = chosen();
    if (seats.length === 0) {
      summary.textContent = `Choose up to ${max} seats.`;
      return;
    }
    const subtotal = seats.reduce((sum, s) => sum + prices[Number(s.dataset.p)], 0);
    const tax = Math.floor((subtotal * 5 + 50) / 100);
    summary.textContent = `${seats.length} seat${seats.length === 1 ? '' : 's'}: ${money(subtotal)} + tax ${money(tax)} = ${money(subtotal + tax)} ${currency}`;
  }

  form.addEventListener('change', (event) => {
    const input = event.target;
    if (input.name !== 'seat') return;
    if (input.checked && chosen().length > max) {
      input.checked = false;
      announce.textContent = `One order holds at most ${max} seats.`;
    }
    update();
  });

  form.addEventListener('submit', (event) => {
    if (chosen().length === 0) {
      event.preventDefault();
      announce.textContent = 'Choose at least one seat first.';
    }
  });

  // Arrow keys: left and right along the row, up and down to the neighbouring row.
  form.addEventListener('keydown', (event) => {
    const input = event.target;
    if (input.name !== 'seat') return;
    const row = input.closest('.row');
    const inRow = Array.from(row.querySelectorAll('input[name=seat]'));
    const index = inRow.indexOf(input);
    let target = null;
    if (event.key === 'ArrowRight') target = inRow[index + 1];
    else if (event.key === 'ArrowLeft') target = inRow[index - 1];
    else if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      const rows = Array.from(form.querySelectorAll('.row'));
      const next = rows[rows.indexOf(row) + (event.key === 'ArrowDown' ? 1 : -1)];
      if (next) {
        const seats = next.querySelectorAll('input[name=seat]');
        target = seats[Math.min(index, seats.length - 1)];
      }
    } else return;
    event.preventDefault();
    if (target) target.focus();
  });

  // The live part: one status letter per seat (A available, H held, S sold).
  function apply(position, status) {
    const input = seat(position);
    if (!input) return;
    const taken = status !== 'A';
    if (taken && input.checked) {
      input.checked = false;
      announce.textContent = `${nameOf(input)} was just taken by someone else.`;
    }
    input.disabled = taken;
  }
  function counts(state) {
    if (typeof state.available === 'number') available.textContent = String(state.available);
    form.dataset.version = String(state.version);
  }

  if (!window.EventSource) return;
  const source = new EventSource(`/events/${form.dataset.event}/seatmap/stream`);
  source.addEventListener('open', () => { live.hidden = false; });
  source.addEventListener('error', () => { live.hidden = true; });
  source.addEventListener('snapshot', (event) => {
    const state = JSON.parse(event.data);
    if (String(state.layoutVersion) !== form.dataset.layout) {
      // Seats were added or moved: positions changed, so the page is drawn again.
      window.location.reload();
      return;
    }
    for (let i = 0; i < state.statuses.length; i += 1) apply(i, state.statuses[i]);
    counts(state);
    update();
  });
  source.addEventListener('delta', (event) => {
    const delta = JSON.parse(event.data);
    delta.changes.forEach(([position, status]) => apply(position, status));
    counts(delta);
    update();
  });
})();
