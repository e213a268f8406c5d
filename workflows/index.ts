/** The workflows a Skillgate worker registers (the bundle's entry point). */
export { runSkill } from './runSkill.js';
