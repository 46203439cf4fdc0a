import './style.css';

document.querySelector('#app').innerHTML = `
  <h1>Hello from Vite</h1>
  <p>Edit <code>src/main.js</code> and save: the page updates by itself.</p>
  <button id="counter" type="button">count is 0</button>
`;

let count = 0;
const button = document.querySelector('#counter');
button.addEventListener('click', () => {
  count += 1;
  button.textContent = `count is ${count}`;
});
