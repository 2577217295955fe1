// Lesson list page.
import { initPage } from './common.js';
import { inlineCode } from '../dom.js';

initPage();
for (const el of document.querySelectorAll('.lesson-summary [data-l], .lesson-title [data-l]')) inlineCode(el);
