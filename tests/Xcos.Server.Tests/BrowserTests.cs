using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;
using OpenQA.Selenium.Support.UI;

namespace Xcos.Server.Tests;

/// <summary>
/// The page in a real browser: Debian's headless Chromium, driven by Selenium through Debian's chromedriver, against a
/// real Kestrel on a free loopback port. The screenshot is left in the test output (artifacts/server-page.png).
/// </summary>
public sealed class BrowserTests
{
    private const string Chromium = "/usr/bin/chromium", Driver = "/usr/bin/chromedriver";

    [DevFacesFact]
    public async Task ThePageVerifiesTwoUploadedPhotosAndDrawsTheMaps()
    {
        Assert.True(File.Exists(Chromium) && File.Exists(Driver),
            $"{Chromium} and {Driver} are needed: apt-get install -y chromium chromium-driver (.ci/run installs them)");
        var folder = Directory.CreateTempSubdirectory("xcos-serve-browser-").FullName;
        var app = XcosServer.Build(["--urls", "http://127.0.0.1:0"], o =>
        {
            o.ModelsDir = RealFaces.ModelsDir();
            o.RateLimitPerSecond = 0;
            o.Gallery = Path.Combine(folder, "people.gallery");
        });
        await using var _ = app;
        await app.StartAsync();
        var url = app.Urls.Single();
        Assert.StartsWith("http://127.0.0.1:", url, StringComparison.Ordinal);

        var service = ChromeDriverService.CreateDefaultService(Path.GetDirectoryName(Driver)!, Path.GetFileName(Driver));
        service.SuppressInitialDiagnosticInformation = true;
        var options = new ChromeOptions { BinaryLocation = Chromium };
        options.AddArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1100,1000", "--hide-scrollbars");
        using var driver = new ChromeDriver(service, options, TimeSpan.FromSeconds(90));
        driver.Navigate().GoToUrl(url + "/");
        Assert.Equal("Xcos.ML: face verification, explained", driver.Title);

        var pair = DevFaces.Pairs().First(p => p.Label);
        driver.FindElement(By.Id("image1")).SendKeys(pair.ImagePath1);
        driver.FindElement(By.Id("image2")).SendKeys(pair.ImagePath2);
        driver.FindElement(By.Id("verify-button")).Click();
        var wait = new WebDriverWait(driver, TimeSpan.FromSeconds(60));
        wait.Until(d => d.FindElements(By.CssSelector("#faces canvas[data-drawn='true']")).Count == 4);
        Assert.Equal("Same person", driver.FindElement(By.Id("verdict")).Text);
        Assert.Matches(@"^0\.\d{4}$", driver.FindElement(By.Id("cosine")).Text);
        Assert.Matches(@"^0\.\d{4}$", driver.FindElement(By.Id("threshold")).Text);

        // each canvas: the aligned face at twice its 112 px, with a map drawn over it (many colours, not a blank)
        var canvases = (IReadOnlyCollection<object>)((IJavaScriptExecutor)driver).ExecuteScript("""
            return [...document.querySelectorAll('#faces canvas')].map(c => {
              const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
              const colours = new Set();
              for (let i = 0; i < d.length; i += 4 * 13) colours.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
              return [c.width, c.height, colours.size];
            });
            """)!;
        Assert.Equal(4, canvases.Count);
        foreach (IReadOnlyCollection<object> c in canvases)
        {
            var v = c.Select(Convert.ToInt64).ToArray();
            Assert.Equal(224, v[0]);
            Assert.Equal(224, v[1]);
            Assert.True(v[2] > 500, $"only {v[2]} colours drawn");
        }

        // the keyboard reaches every cell: focus a face, move right from the centre
        driver.FindElement(By.CssSelector("#faces .grid-host")).SendKeys(Keys.ArrowRight);
        var cell = driver.FindElement(By.Id("cell-info")).Text;
        Assert.Contains("Row 4, column 5", cell, StringComparison.Ordinal);
        Assert.Matches(@"patch cosine -?\d\.\d{3}", cell);
        Assert.Contains("attention", cell, StringComparison.Ordinal);
        Assert.Contains("contribution to the cosine", cell, StringComparison.Ordinal);

        var artifacts = Directory.CreateDirectory(Path.Combine(AppContext.BaseDirectory, "artifacts")).FullName;
        var shot = Path.Combine(artifacts, "server-page.png");
        driver.GetScreenshot().SaveAsFile(shot);
        Assert.True(new FileInfo(shot).Length > 20_000);

        // the second tab: enrol two people through the API, then identify a third photo of one of them on the page
        using (var http = new HttpClient { BaseAddress = new Uri(url) })
            foreach (var (who, file) in new[] { ("Tony Blair", "Tony_Blair/Tony_Blair_0001.jpg"), ("Donald Rumsfeld", "Donald_Rumsfeld/Donald_Rumsfeld_0003.jpg") })
            {
                var path = Path.Combine(DevFaces.Root, "photos", file);
                var form = Forms.Files(("image", Path.GetFileName(path), File.ReadAllBytes(path)));
                form.Add(new StringContent(who), "identity");
                using var r = await http.PostAsync("/v1/enroll", form);
                Assert.Equal(System.Net.HttpStatusCode.OK, r.StatusCode);
            }
        driver.Navigate().Refresh();
        driver.FindElement(By.Id("tab-identify")).Click();
        wait.Until(d => d.FindElement(By.Id("gallery-line")).Text.StartsWith("Gallery: 2 faces", StringComparison.Ordinal));
        driver.FindElement(By.Id("probe")).SendKeys(Path.Combine(DevFaces.Root, "photos", "Tony_Blair", "Tony_Blair_0003.jpg"));
        driver.FindElement(By.Id("identify-button")).Click();
        wait.Until(d => d.FindElements(By.CssSelector("#probe-host canvas[data-drawn='true']")).Count == 1);
        Assert.Equal("Tony Blair", driver.FindElement(By.Id("identify-verdict")).Text);
        Assert.Equal(2, driver.FindElements(By.CssSelector("#matches tbody tr")).Count);
        driver.GetScreenshot().SaveAsFile(Path.Combine(artifacts, "server-identify.png"));
        await app.StopAsync();
        Directory.Delete(folder, true);
    }
}
