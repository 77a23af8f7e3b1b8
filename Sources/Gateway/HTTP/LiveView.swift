import Foundation
import Synchronization
import Telemetry

/// The gateway's live view: a self-contained page (inline CSS, script and SVG; no fonts or
/// scripts from elsewhere) that follows `GET /api/live/stream` (or, with `/?poll`, asks
/// `GET /api/live` every second), server-sent events each
/// holding a `LiveView.Snapshot`: the status, the open alarms, and per city and domain the
/// newest value of each indicator and the telemetry health.
enum LiveView {
    struct Snapshot: Encodable {
        var time: Int64
        var status: GatewayService.Status
        var activeAlarms: [String: Int]
        /// The newest open alarms, at most 40.
        var alarms: [Alarm]
        /// The newest base-window value of each indicator per city.
        var indicators: [IndicatorRow]
    }

    static func snapshot(_ service: GatewayService) throws -> [UInt8] {
        let open = try service.store.alarms(activeOnly: true, city: nil, kind: nil)
        var active: [String: Int] = [:]
        for alarm in open { active[alarm.kind, default: 0] += 1 }
        let snapshot = Snapshot(
            time: Int64(Date().timeIntervalSince1970 * 1000), status: service.status(), activeAlarms: active,
            alarms: Array(open.sorted { $0.raised > $1.raised }.prefix(40)),
            indicators: try service.store.latestIndicators(city: nil, domain: nil).filter { $0.resolution == Resolution.base.name })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array(try encoder.encode(snapshot))
    }

    /// One snapshot for every stream and poll within `interval`: open streams do not each
    /// query the store.
    final class Shared: Sendable {
        let interval: Duration
        private let newest = Mutex<(at: ContinuousClock.Instant, bytes: [UInt8])?>(nil)

        init(interval: Duration) { self.interval = interval }

        func snapshot(_ service: GatewayService) throws -> [UInt8] {
            let now = ContinuousClock.now
            if let kept = newest.withLock({ $0 }), now - kept.at < interval { return kept.bytes }
            let bytes = try LiveView.snapshot(service)
            newest.withLock { $0 = (now, bytes) }
            return bytes
        }
    }

    static let page = """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"/><title>smartcity gateway: live</title>
        <style>
        body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:16px;color:#222;background:#fafafa}
        h1{font-size:22px;margin:0 0 8px}h2{font-size:16px;margin:18px 0 6px}
        .grid{display:flex;flex-wrap:wrap;gap:12px}.card{background:#fff;border:1px solid #e3e3e3;border-radius:6px;padding:10px 12px;min-width:260px}
        table{border-collapse:collapse;font-size:13px}td,th{padding:3px 8px;border-bottom:1px solid #eee;text-align:left}
        .num{text-align:right}.critical{color:#b00020;font-weight:600}.major{color:#d35400}.minor{color:#555}.warning{color:#7a6a00}
        #state{font-size:13px;color:#666}svg{vertical-align:middle}
        </style></head><body>
        <h1>smartcity gateway: live</h1><div id="state">connecting…</div>
        <h2>Telemetry</h2><div class="grid" id="telemetry"></div>
        <h2>Indicators (newest window, trend over this page's life)</h2><div class="grid" id="indicators"></div>
        <h2>Open alarms</h2><div class="grid"><div class="card"><table id="alarmKinds"></table></div><div class="card"><table id="alarms"></table></div></div>
        <script>
        const history = {}; let last = null, seen = 0;
        function esc(s){return String(s).replace(/[&<>"]/g,c=>({"&":"&amp;","<":"&lt;",">":"&gt;","\\"":"&quot;"}[c]));}
        function fmt(v){return Math.abs(v)>=100?v.toFixed(0):Math.abs(v)>=10?v.toFixed(1):v.toFixed(2);}
        function spark(points){
          if(points.length<2)return "";
          const lo=Math.min(...points),hi=Math.max(...points),w=90,h=22,span=hi-lo||1;
          const d=points.map((v,i)=>(i*w/(points.length-1)).toFixed(1)+","+(h-2-(v-lo)/span*(h-4)).toFixed(1)).join(" ");
          return '<svg width="'+w+'" height="'+h+'"><polyline fill="none" stroke="#1f77b4" stroke-width="1.5" points="'+d+'"/></svg>';
        }
        function show(s){
          seen=Date.now();
          const st=s.status, rate=last?((st.received-last.status.received)/Math.max(0.001,(s.time-last.time)/1000)):0; last=s;
          document.getElementById("state").textContent=(st.connected?"connected":"not connected to the broker")+" · "+new Date(s.time).toISOString()+(st.ok?"":" · store or journal failing");
          document.getElementById("telemetry").innerHTML=[["received",st.received],["per second",Math.round(rate)],["accepted",st.accepted],["duplicates",st.duplicates],["late",st.late],["too late",st.tooLate],["invalid",st.rejected],["devices",st.devices],["open windows",st.openWindows]]
            .map(([k,v])=>'<div class="card"><div>'+esc(k)+'</div><div style="font-size:22px">'+esc(v)+'</div></div>').join("");
          const kinds=Object.entries(s.activeAlarms).sort();
          document.getElementById("alarmKinds").innerHTML="<tr><th>kind</th><th class=num>open</th></tr>"+(kinds.length?kinds.map(([k,n])=>"<tr><td>"+esc(k)+"</td><td class=num>"+n+"</td></tr>").join(""):"<tr><td colspan=2>none</td></tr>");
          document.getElementById("alarms").innerHTML="<tr><th>raised</th><th>kind</th><th>device</th><th>district</th><th class=num>value</th></tr>"+s.alarms.slice(0,12).map(a=>
            "<tr><td>"+new Date(a.raised).toISOString().slice(0,16).replace("T"," ")+'</td><td class="'+esc(a.severity)+'">'+esc(a.kind)+"</td><td>"+esc(a.device)+"</td><td>"+esc(a.district)+"</td><td class=num>"+fmt(a.value)+"</td></tr>").join("");
          const byDomain={};
          for(const i of s.indicators){const key=i.city+" "+i.code;(history[key]=history[key]||[]);const hist=history[key];if(!hist.length||hist[hist.length-1][0]!==i.start){hist.push([i.start,i.value]);if(hist.length>60)hist.shift();}
            (byDomain[i.city+" · "+i.domain]=byDomain[i.city+" · "+i.domain]||[]).push(i);}
          document.getElementById("indicators").innerHTML=Object.keys(byDomain).sort().map(d=>'<div class="card"><b>'+esc(d)+"</b><table>"+byDomain[d].map(i=>
            "<tr><td>"+esc(i.name)+"</td><td class=num>"+fmt(i.value)+" "+esc(i.unit)+"</td><td>"+spark(history[i.city+" "+i.code].map(p=>p[1]))+"</td></tr>").join("")+"</table></div>").join("");
        }
        function follow(){
          const events=new EventSource("/api/live/stream");
          events.onmessage=e=>show(JSON.parse(e.data));
          // The stream ends now and then and EventSource opens the next: only a silence is news.
          events.onerror=()=>setTimeout(()=>{if(Date.now()-seen>3000)document.getElementById("state").textContent="reconnecting…";},3000);
        }
        // ?poll: ask for a snapshot every second instead of following the stream (for proxies
        // that hold server-sent events back, and for page captures).
        const poll=()=>fetch("/api/live").then(r=>r.json()).then(show);
        if(location.search.includes("poll")){poll();setInterval(poll,1000);}else{poll().finally(follow);}
        </script></body></html>
        """
}
