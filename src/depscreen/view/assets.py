"""The pages' CSS and JavaScript, as string constants (nothing to ship as package data, and
nothing a page could fetch: every page inlines what it needs).

The script only wires the server-rendered timeline: clicking (or Enter on) an utterance seeks
the embedded recording to its start and plays it; the utterance playing is highlighted. It
sets `window.__reportRendered` (a `performance.now()` timestamp) once the page is usable, so
the browser tests can measure how long the page took after the model's answer.
"""

CSP = ("default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
       "media-src data: blob:; img-src data:; form-action 'self'; base-uri 'none'")

CSS = """
:root{--pos:#b3261e;--neg:#1f6f43;--ink:#1d1d1f;--mute:#6b6b70;--line:#d8d8de}
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--ink);
  margin:0 auto;max-width:1100px;padding:20px 28px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:22px 0 8px}
.meta{color:var(--mute);font-size:13px}
.card{border:1px solid var(--line);border-radius:8px;padding:14px 18px;margin:12px 0}
.decision{font-size:24px;font-weight:650}
.decision.pos{color:var(--pos)}.decision.neg{color:var(--neg)}
.scale{position:relative;height:18px;border-radius:9px;margin:26px 0 22px;
  background:linear-gradient(90deg,#3b6fb6,#f2f2f2 50%,#c0392b)}
.scale .mark{position:absolute;top:-7px;width:3px;height:32px;background:var(--ink);
  margin-left:-1px}
.scale .thr{position:absolute;top:-4px;height:26px;border-left:2px dashed var(--ink)}
.scale .band{position:absolute;top:0;height:18px;background:rgba(0,0,0,.18)}
.scale .lab{position:absolute;top:-22px;font-size:12px;white-space:nowrap;
  transform:translateX(-50%)}
.scale .thr .lab{top:26px}
.scale .ends{position:absolute;top:20px;font-size:11px;color:var(--mute)}
.mods{display:grid;grid-template-columns:90px 1fr 60px;gap:6px 10px;align-items:center}
.bar{height:12px;background:#eee;border-radius:6px;overflow:hidden}
.bar i{display:block;height:100%}
.tl-wrap{display:grid;grid-template-columns:60px 1fr;gap:0 8px;align-items:start}
.tl-labels div{height:22px;font-size:12px;color:var(--mute);line-height:22px}
.tl-labels .axis{height:18px}
#timeline{position:relative;height:66px;background:#fafafa;border:1px solid var(--line)}
.utt{position:absolute;top:0;height:66px;min-width:3px;cursor:pointer;
  outline-offset:1px;display:flex;flex-direction:column}
.utt i{display:block;flex:1}
.utt:hover,.utt:focus{outline:2px solid var(--ink)}
.utt.playing{outline:2px solid #e0a100}
.axis{position:relative;height:18px;font-size:11px;color:var(--mute)}
.axis span{position:absolute;transform:translateX(-50%)}
.legend{font-size:12px;color:var(--mute);margin-top:6px}
.legend b{display:inline-block;width:14px;height:10px;vertical-align:middle;margin:0 3px}
audio{width:100%;margin-top:10px}
.warn{color:#8a5a00;font-size:13px}
.caveat{margin-top:26px;padding:10px 14px;background:#fff6e0;border-radius:6px;font-size:13px}
table{border-collapse:collapse;width:100%;font-size:14px}
th,td{border-bottom:1px solid var(--line);padding:6px 8px;text-align:left}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.err{color:var(--pos)}
form label{display:block;margin:12px 0 4px;font-weight:600}
form button{margin-top:16px;font-size:15px;padding:6px 18px}
.error-box{border:1px solid var(--pos);color:var(--pos);padding:10px 14px;border-radius:6px}
"""

SCRIPT = """
(function(){
  var audio=document.getElementById('player');
  var tl=document.getElementById('timeline');
  var utts=tl?Array.prototype.slice.call(tl.querySelectorAll('.utt')):[];
  var playing=null;
  function mark(u){if(playing)playing.classList.remove('playing');playing=u;
    if(u)u.classList.add('playing');}
  function go(u){mark(u);if(!audio)return;
    audio.currentTime=parseFloat(u.getAttribute('data-start'));
    var p=audio.play();if(p&&p.catch)p.catch(function(){});}
  if(tl){
    tl.addEventListener('click',function(e){var u=e.target.closest('.utt');if(u)go(u);});
    tl.addEventListener('keydown',function(e){
      if(e.key!=='Enter'&&e.key!==' ')return;var u=e.target.closest('.utt');
      if(u){e.preventDefault();go(u);}});
  }
  if(audio){audio.addEventListener('timeupdate',function(){var t=audio.currentTime;
    if(playing&&t>=+playing.getAttribute('data-start')&&t<=+playing.getAttribute('data-end'))
      return;
    var hit=null;for(var i=0;i<utts.length;i++){
      if(t>=+utts[i].getAttribute('data-start')&&t<=+utts[i].getAttribute('data-end')){
        hit=utts[i];break;}}
    mark(hit);});}
  window.__reportRendered=performance.now();
})();
"""
