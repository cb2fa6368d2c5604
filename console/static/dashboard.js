// 总览: draws each chart from the JSON table the page embeds (the same rows as its 数据表),
// and opens the buyers behind a bar, cell or stage on click. Redraws after htmx swaps.
(function () {
  "use strict";
  var charts = [];
  var reduced = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  var RED = "#c4302b", GREEN = "#1f9d55", BLUE = "#1664ff", GREY = "#8f959e", ORANGE = "#e37318";

  function col(t, name) { return t.columns.indexOf(name); }
  function column(t, name) { var i = col(t, name); return t.rows.map(function (r) { return r[i]; }); }
  function labels(t) { return t.rows.map(function (r) { return r[0]; }); }
  function neg(values) { return values.map(function (v) { return v == null ? null : -v; }); }

  function base(extra) {
    var o = {
      animation: !reduced,
      aria: { enabled: true, decal: { show: true } },
      tooltip: { trigger: "axis" },
      legend: { top: 0, type: "scroll" },
      grid: { left: 48, right: 48, top: 52, bottom: 28, containLabel: true }
    };
    for (var k in extra) o[k] = extra[k];
    return o;
  }

  // chart key → [option, drill(params) → url]; `t` is the table, `d` all tables.
  var BUILD = {
    followers: function (d) {
      var t = d.followers;
      return [base({
        xAxis: { type: "category", data: labels(t) },
        yAxis: [{ type: "value", name: "人" }, { type: "value", name: "累积关注" }],
        series: [
          { name: "新关注", type: "bar", stack: "f", data: column(t, "新关注"), itemStyle: { color: RED } },
          { name: "取消关注", type: "bar", stack: "f", data: neg(column(t, "取消关注")), itemStyle: { color: GREEN } },
          { name: "累积关注", type: "line", yAxisIndex: 1, data: column(t, "累积关注"), itemStyle: { color: BLUE } }
        ]
      }), function (p) { return t.drill[p.dataIndex][[1, 2, 4][p.seriesIndex]]; }];
    },
    customers: function (d) {
      var t = d.customers;
      return [base({
        xAxis: { type: "category", data: labels(t) },
        yAxis: [{ type: "value", name: "买家" }, { type: "value", name: "订单" }],
        series: [
          { name: "本期新客", type: "bar", stack: "c", data: column(t, "本期新客"), itemStyle: { color: ORANGE } },
          { name: "本期老客", type: "bar", stack: "c", data: column(t, "本期老客"), itemStyle: { color: BLUE } },
          { name: "流失", type: "line", data: column(t, "流失"), itemStyle: { color: GREY } },
          { name: "新客订单", type: "line", yAxisIndex: 1, lineStyle: { type: "dashed" }, data: column(t, "新客订单") },
          { name: "老客订单", type: "line", yAxisIndex: 1, lineStyle: { type: "dashed" }, data: column(t, "老客订单") }
        ]
      }), function (p) { return t.drill[p.dataIndex][p.seriesIndex + 1]; }];
    },
    cohorts: function (d) {
      var t = d.cohorts, cells = [];
      t.rows.forEach(function (r, y) {
        for (var k = 0; k < 12; k++) {
          if (r[k + 2] == null) continue;
          var v = Math.round(r[k + 2] * 1000) / 10;
          // The running month's cell is partial: marked * and faded, so it reads as unfinished.
          cells.push(t.partial[y][k + 2] ? { value: [k, y, v], itemStyle: { opacity: 0.45 },
            label: { formatter: v + "*" } } : [k, y, v]);
        }
      });
      return [base({
        tooltip: { position: "top" },
        grid: { left: 96, right: 16, top: 16, bottom: 56, containLabel: false },
        xAxis: { type: "category", data: t.columns.slice(2) },
        yAxis: { type: "category", inverse: true, data: t.rows.map(function (r) { return r[0] + "（" + r[1] + "）"; }) },
        visualMap: { min: 0, max: 100, calculable: false, orient: "horizontal", left: "center", bottom: 0, itemHeight: 80, text: ["100%", "0%"] },
        series: [{ name: "复购率 %", type: "heatmap", data: cells, label: { show: true, fontSize: 10 } }]
      }), function (p) { return t.drill[p.value[1]][p.value[0] + 2]; }];
    },
    interaction: function (d) {
      var t = d.interaction;
      return [base({
        xAxis: { type: "category", data: labels(t) },
        yAxis: [{ type: "value", name: "买家" }, { type: "value", name: "占比", max: 1, axisLabel: { formatter: function (v) { return Math.round(v * 100) + "%"; } } }],
        series: [
          { name: "7日发言", type: "line", areaStyle: {}, data: column(t, "7日发言") },
          { name: "30日发言", type: "line", data: column(t, "30日发言") },
          { name: "窗口内", type: "line", data: column(t, "窗口内") },
          { name: "窗口内占比", type: "line", yAxisIndex: 1, lineStyle: { type: "dashed" }, data: column(t, "窗口内占比") }
        ]
      }), function (p) { return t.drill[p.dataIndex][p.seriesIndex + 1]; }];
    },
    funnel: function (d) {
      var t = d.funnel, s = d.stuck;
      return [base({
        tooltip: { trigger: "item" },
        legend: { show: false },
        grid: { left: "55%", right: 16, top: 24, bottom: 24, containLabel: true },
        xAxis: { type: "value", name: "买家" },
        yAxis: { type: "category", data: labels(s), name: "停在哪一题" },
        series: [
          { name: "名片漏斗", type: "funnel", left: 8, width: "45%", sort: "none",
            label: { formatter: "{b} {c}" },
            data: t.rows.map(function (r) { return { name: r[0], value: r[1] }; }) },
          { name: "停在这一题", type: "bar", data: column(s, "买家"), itemStyle: { color: ORANGE } }
        ]
      }), function (p) { return p.seriesIndex === 0 ? t.drill[p.dataIndex][1] : s.drill[p.dataIndex][1]; }];
    },
    tiers: function (d) {
      var t = d.tiers, m = d.tier_moves;
      return [base({
        grid: [{ left: 8, width: "40%", top: 36, bottom: 28, containLabel: true },
               { left: "55%", right: 16, top: 36, bottom: 28, containLabel: true }],
        xAxis: [{ type: "value", gridIndex: 0 }, { type: "category", gridIndex: 1, data: labels(m) }],
        yAxis: [{ type: "category", gridIndex: 0, data: labels(t) }, { type: "value", gridIndex: 1 }],
        series: [
          { name: "买家", type: "bar", xAxisIndex: 0, yAxisIndex: 0, data: column(t, "买家"), itemStyle: { color: BLUE } },
          { name: "升级", type: "bar", xAxisIndex: 1, yAxisIndex: 1, data: column(m, "升级"), itemStyle: { color: RED } },
          { name: "降级", type: "bar", xAxisIndex: 1, yAxisIndex: 1, data: neg(column(m, "降级")), itemStyle: { color: GREEN } }
        ]
      }), function (p) { return p.seriesIndex === 0 ? t.drill[p.dataIndex][1] : m.drill[p.dataIndex][p.seriesIndex]; }];
    },
    campaigns: function (d) {
      var t = d.campaigns;
      return [base({
        tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
        xAxis: { type: "value", name: "买家" },
        yAxis: { type: "category", inverse: true, data: labels(t) },
        series: ["触达", "48h回复", "7日下单"].map(function (name, i) {
          return { name: name, type: "bar", data: column(t, name), itemStyle: { color: [BLUE, ORANGE, RED][i] } };
        })
      }), function (p) { return t.drill[p.dataIndex][p.seriesIndex + 3]; }];
    }
  };

  function draw() {
    charts.forEach(function (c) { c.dispose(); });
    charts = [];
    var source = document.getElementById("dashboard-data");
    if (!source || !window.echarts) return;
    var data = JSON.parse(source.textContent);
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var build = BUILD[el.getAttribute("data-chart")];
      if (!build) return;
      var made = build(data), chart = window.echarts.init(el, null, { renderer: "canvas" });
      chart.setOption(made[0]);
      chart.on("click", function (p) {
        var url = made[1](p);
        if (url) window.location.href = url;
      });
      charts.push(chart);
    });
  }

  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
  document.addEventListener("htmx:afterSettle", draw);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
