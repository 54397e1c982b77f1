// The front page: what this node is and where to start.
import { h, link } from './util.js';

export function render(main, params, app) {
  main.append(
    h('h1', 'AI compute, traded openly'),
    h('p', 'Submit AI jobs (OCR, inference) to miners, pay through escrow, and verify every result with a signed receipt — in this browser.'),
    h('div.grid',
      h('section.panel', h('h2', '1. Get a key'), h('p', app.account ? 'You are signed in.' : 'Sign up for a client key with a starting grant.'),
        app.account ? link('#/account', 'Your account') : link('#/signup', 'Sign up')),
      h('section.panel', h('h2', '2. Run a job'), h('p', 'Choose an image to read its text, or ask a model.'), link('#/jobs', 'Jobs')),
      h('section.panel', h('h2', '3. Check the receipt'), h('p', 'Each finished job has a receipt signed by the coordinator; the page checks it with Ed25519.'), link('#/jobs', 'Your jobs')),
      h('section.panel', h('h2', 'Watch the chain'), h('p', 'Blocks and transactions as they are sealed.'), link('#/explorer', 'Explorer')),
      h('section.panel', h('h2', 'Buy GPU hours'), h('p', 'Miners sell hours on the marketplace.'), link('#/market', 'Marketplace')),
      h('section.panel', h('h2', 'Trade AIT'), h('p', 'An order book for AIT-BTC.'), link('#/exchange', 'Exchange'))));
}
