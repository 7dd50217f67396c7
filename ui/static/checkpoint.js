/* Checkpoint page, progressive enhancement: "Scan with camera" where the browser has a camera
   API. The form works without this file (a hardware scanner types into the QR field).
   qr-scanner (vendored) decodes with the browser's BarcodeDetector when there is one, else in a
   worker loaded from this server (its own default is a Blob URL, which the CSP refuses). */
(function () {
  "use strict";
  var box = document.getElementById("camera-scan");
  if (!box || !window.QrScanner || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return;
  var WORKER = "/static/vendor/qr-scanner/qr-scanner-worker.min.js";
  var native = null;
  QrScanner.createQrEngine = function () {
    if (native === null) {
      native = ("BarcodeDetector" in window && BarcodeDetector.getSupportedFormats)
        ? BarcodeDetector.getSupportedFormats().then(function (f) { return f.indexOf("qr_code") >= 0; }, function () { return false; })
        : Promise.resolve(false);
    }
    return native.then(function (ok) {
      return ok ? new BarcodeDetector({ formats: ["qr_code"] }) : new Worker(WORKER);
    });
  };
  var start = document.getElementById("camera-start"), stop = document.getElementById("camera-stop");
  var video = document.getElementById("camera-video"), status = document.getElementById("camera-status");
  var qr = document.getElementById("qr"), temperature = document.getElementById("temperature");
  var form = qr.form, scanner = null;
  function say(en, zh) { status.textContent = en + " " + zh; }
  function halt() {
    if (scanner) { scanner.stop(); scanner.destroy(); scanner = null; }
    video.hidden = true; stop.hidden = true; start.hidden = false;
  }
  function found(result) {
    halt();
    qr.value = result.data || result;
    var card = form.elements.card_number;
    if (card) card.value = "";
    if (temperature.value.trim()) {
      say("Code read, verifying…", "已识别，正在查验…");
      if (form.requestSubmit) form.requestSubmit(); else form.submit();
    } else {
      say("Code read. Enter the temperature, then Verify.", "已识别，请输入体温后点击查验。");
      temperature.focus();
    }
  }
  start.addEventListener("click", function () {
    video.hidden = false; start.hidden = true; stop.hidden = false;
    say("Point the camera at the QR code.", "请将摄像头对准二维码。");
    scanner = new QrScanner(video, found, { returnDetailedScanResult: true, highlightScanRegion: false, preferredCamera: "environment" });
    scanner.start().catch(function () {
      halt();
      say("The camera cannot be used here; type or paste the code instead.", "无法使用摄像头，请输入或粘贴二维码内容。");
    });
  });
  stop.addEventListener("click", function () { halt(); say("", ""); });
  box.hidden = false;
})();
