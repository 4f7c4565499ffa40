"""Bar charts for the benchmark reports, drawn with matplotlib (axes, legends and log scales
done properly instead of hand-written SVG). Used by bench_report.py and bench_compare_report.py;
scripts/pyenv.sh provides a virtualenv with matplotlib."""
import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402


def grouped_bars(path, title, groups, series, ylabel, log=False):
    """groups: labels on the x axis; series: list of (name, color, values), one value per group
    (None or 0 for a missing figure). Writes an SVG (or PNG, by the path's extension)."""
    fig, ax = plt.subplots(figsize=(max(6.4, 1.1 * len(groups)), 3.8))
    width = 0.8 / max(1, len(series))
    for i, (name, color, values) in enumerate(series):
        xs = [g + (i - (len(series) - 1) / 2) * width for g in range(len(groups))]
        ys = [v if v else float("nan") for v in values]  # missing: no bar
        ax.bar(xs, ys, width * 0.95, label=name, color=color)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels(groups, rotation=20 if len(groups) > 4 else 0, ha="right" if len(groups) > 4 else "center")
    if log:
        ax.set_yscale("log")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(axis="y", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    ax.legend(fontsize=8, ncol=min(5, len(series)))
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
