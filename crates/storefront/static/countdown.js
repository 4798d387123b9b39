// Checkout: how long the seats stay held, counted down each second.
(() => {
  'use strict';
  const expires = document.getElementById('expires');
  const remaining = document.getElementById('remaining');
  if (!expires || !remaining) return;
  const end = Date.parse(expires.getAttribute('datetime'));
  if (Number.isNaN(end)) return;
  let lastMinute = null;
  function tick() {
    const left = Math.max(0, Math.round((end - Date.now()) / 1000));
    const minutes = Math.floor(left / 60);
    const text = left === 0
      ? ' (the hold has expired: reload to see the order)'
      : ` (${minutes}:${String(left % 60).padStart(2, '0')} left)`;
    // Screen readers hear the minutes, not every second.
    if (minutes !== lastMinute || left === 0) remaining.setAttribute('aria-live', 'polite');
    else remaining.setAttribute('aria-live', 'off');
    lastMinute = minutes;
    remaining.textContent = text;
    if (left > 0) window.setTimeout(tick, 1000);
  }
  tick();
})();
