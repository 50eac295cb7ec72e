using System.Runtime.InteropServices;
using SkiaSharp;

namespace Xcos.ML.Data.Synthetic;

/// <summary>Draws one face: identity geometry in 112-template coordinates, posed by the nuisance transform, then photometric nuisance on the pixels.</summary>
internal static class FaceRenderer
{
    private const float Base = 112f;
    private static readonly float[] T = FaceLandmarks.Template112;

    /// <summary>Renders to interleaved RGB8 and returns the posed landmarks in output pixels.</summary>
    public static (byte[] Rgb, float[] Landmarks) Render(FaceIdentity id, FaceNuisance n, int size, SplitMix pixelRng)
    {
        var info = new SKImageInfo(size, size, SKColorType.Rgba8888, SKAlphaType.Premul);
        using var bmp = new SKBitmap(info);
        using (var c = new SKCanvas(bmp))
        {
            c.Scale(size / Base);
            DrawBackground(c, n, pixelRng);
            // Pose: rotate and scale about the template centre, then shift.
            var pose = Pose(n);
            c.Concat(ref pose);
            var lm = Landmarks(id, n);
            DrawHead(c, id, n, lm);
            DrawOccluders(c, id, n, lm);
            c.Flush();
        }

        var rgba = new byte[size * size * 4];
        Marshal.Copy(bmp.GetPixels(), rgba, 0, rgba.Length);
        var rgb = Photometric(rgba, size, n, pixelRng);

        var posed = Landmarks(id, n);
        var pose2 = Pose(n);
        var outLm = new float[10];
        float k = size / Base;
        for (int i = 0; i < 5; i++)
        {
            var p = pose2.MapPoint(posed[2 * i], posed[2 * i + 1]);
            outLm[2 * i] = p.X * k;
            outLm[2 * i + 1] = p.Y * k;
        }
        return (rgb, outLm);
    }

    private static SKMatrix Pose(FaceNuisance n)
    {
        const float cx = 56f, cy = 66f;
        var m = SKMatrix.CreateTranslation(-cx, -cy);
        m = m.PostConcat(SKMatrix.CreateScale(n.Scale, n.Scale));
        m = m.PostConcat(SKMatrix.CreateRotationDegrees(n.Rotation));
        m = m.PostConcat(SKMatrix.CreateTranslation(cx + n.Tx, cy + n.Ty));
        return m;
    }

    /// <summary>Unposed landmarks: template plus identity offsets plus expression (a smile lifts the mouth corners).</summary>
    private static float[] Landmarks(FaceIdentity id, FaceNuisance n)
    {
        float mouthLift = -0.45f * n.Smile;
        return
        [
            T[0] - id.EyeSpacing, T[1] + id.EyeDy,
            T[2] + id.EyeSpacing, T[3] + id.EyeDy,
            T[4] + id.NoseDx, T[5] + id.NoseDy,
            T[6] - id.MouthHalfWidthDelta, T[7] + id.MouthDy + mouthLift,
            T[8] + id.MouthHalfWidthDelta, T[9] + id.MouthDy + mouthLift,
        ];
    }

    private static SKPaint Fill(SKColor c) => new() { Color = c, IsAntialias = true, Style = SKPaintStyle.Fill };

    private static SKPaint Stroke(SKColor c, float w) => new()
    {
        Color = c, IsAntialias = true, Style = SKPaintStyle.Stroke, StrokeWidth = w, StrokeCap = SKStrokeCap.Round, StrokeJoin = SKStrokeJoin.Round,
    };

    private static SKColor Shade(SKColor c, float f) => FaceIdentity.Rgb(c.Red * f, c.Green * f, c.Blue * f);

    private static void DrawBackground(SKCanvas c, FaceNuisance n, SplitMix r)
    {
        var dx = MathF.Cos(n.BgAngle) * 56; var dy = MathF.Sin(n.BgAngle) * 56;
        using var shader = SKShader.CreateLinearGradient(new SKPoint(56 - dx, 56 - dy), new SKPoint(56 + dx, 56 + dy),
            [n.Bg1, n.Bg2], SKShaderTileMode.Clamp);
        using var p = new SKPaint { Shader = shader };
        c.DrawRect(0, 0, Base, Base, p);
        for (int i = 0; i < n.BgBlobs; i++)
        {
            using var b = Fill(FaceIdentity.Rgb(r.Uniform(0, 255), r.Uniform(0, 255), r.Uniform(0, 255)).WithAlpha((byte)r.Uniform(60, 160)));
            c.DrawOval(new SKPoint((float)r.Uniform(0, Base), (float)r.Uniform(0, Base)), new SKSize((float)r.Uniform(6, 30), (float)r.Uniform(6, 30)), b);
        }
    }

    /// <summary>Face outline: an ellipse whose lower half narrows towards the jaw and drops to a chin.</summary>
    private static SKPath FacePath(FaceIdentity id)
    {
        var path = new SKPath();
        const int N = 72;
        for (int i = 0; i < N; i++)
        {
            double a = 2 * Math.PI * i / N;
            double s = Math.Sin(a), co = Math.Cos(a);
            double w = id.FaceHalfW * (s > 0 ? 1 - (1 - id.Jaw) * s * s : 1);
            double h = id.FaceHalfH + (s > 0 ? id.Chin * Math.Pow(s, 6) : 0);
            float x = (float)(56 + w * co), y = (float)(id.FaceCy + h * s);
            if (i == 0) path.MoveTo(x, y); else path.LineTo(x, y);
        }
        path.Close();
        return path;
    }

    private static void DrawHead(SKCanvas c, FaceIdentity id, FaceNuisance n, float[] lm)
    {
        float top = id.FaceCy - id.FaceHalfH;
        // Long hair falls behind the head and shoulders.
        if (id.HairStyle == 2)
        {
            using var hp = Fill(id.Hair);
            var r = new SKRect(56 - id.FaceHalfW - id.HairVolume - 3, top - id.HairVolume, 56 + id.FaceHalfW + id.HairVolume + 3, id.FaceCy + id.FaceHalfH + 14);
            c.DrawRoundRect(r, 18, 18, hp);
        }
        // Neck and shoulders.
        using (var neck = Fill(Shade(id.Skin, 0.82f)))
            c.DrawRect(56 - id.FaceHalfW * 0.45f, id.FaceCy + id.FaceHalfH * 0.5f, id.FaceHalfW * 0.9f, 60, neck);
        // Ears.
        using (var ear = Fill(Shade(id.Skin, 0.93f)))
        {
            float ey = (lm[1] + lm[3]) / 2 + 10;
            c.DrawOval(new SKPoint(56 - id.FaceHalfW + 1, ey), new SKSize(id.EarSize * 0.55f, id.EarSize), ear);
            c.DrawOval(new SKPoint(56 + id.FaceHalfW - 1, ey), new SKSize(id.EarSize * 0.55f, id.EarSize), ear);
        }
        using var face = FacePath(id);
        using (var skin = Fill(id.Skin)) c.DrawPath(face, skin);
        // Soft cheek shading so the outline reads as a volume.
        using (var shadeShader = SKShader.CreateRadialGradient(new SKPoint(56, id.FaceCy), id.FaceHalfH * 1.05f,
                   [id.Skin.WithAlpha(0), Shade(id.Skin, 0.8f)], [0.6f, 1f], SKShaderTileMode.Clamp))
        using (var shade = new SKPaint { Shader = shadeShader, IsAntialias = true })
            c.DrawPath(face, shade);

        DrawHairTop(c, id, face, top);
        DrawMarksUnder(c, id, lm);
        DrawEyes(c, id, n, lm);
        DrawBrows(c, id, lm);
        DrawNose(c, id, lm);
        DrawMouth(c, id, n, lm);
        DrawMarksOver(c, id, lm);
    }

    private static void DrawHairTop(SKCanvas c, FaceIdentity id, SKPath face, float top)
    {
        using var hair = Fill(id.Hair);
        float l = 56 - id.FaceHalfW, rr = 56 + id.FaceHalfW;
        switch (id.HairStyle)
        {
            case 0: // bald: only a faint shadow band at the temples
                using (var band = Stroke(id.Hair.WithAlpha(90), 2.5f))
                    c.DrawArc(new SKRect(l + 2, top + 2, rr - 2, top + 2 * id.FaceHalfH), 200, 140, false, band);
                return;
            case 5: // curly: ring of circles around the crown
                for (int i = 0; i <= 12; i++)
                {
                    double a = Math.PI + Math.PI * i / 12;
                    float x = (float)(56 + (id.FaceHalfW + 2) * Math.Cos(a)), y = (float)(id.FaceCy - 6 + (id.FaceHalfH + 2) * Math.Sin(a) * 0.95);
                    c.DrawCircle(x, Math.Min(y, id.FaceCy), 5 + id.HairVolume * 0.5f, hair);
                }
                break;
        }
        // Cap: the head ellipse grown by the hair volume, clipped to the region above a hairline curve.
        using var cap = new SKPath();
        cap.AddOval(new SKRect(l - id.HairVolume * 0.4f, top - id.HairVolume, rr + id.HairVolume * 0.4f, top + 2 * id.FaceHalfH + id.HairVolume));
        using var above = new SKPath();
        float line = id.Hairline;
        switch (id.HairStyle)
        {
            case 3: // fringe: straight edge low on the forehead
                above.AddRect(new SKRect(0, -20, Base, line + 9));
                break;
            case 4: // side part: a slanted edge
                above.MoveTo(0, -20); above.LineTo(Base, -20);
                above.LineTo(Base, line + 6 + 7 * id.PartSide); above.LineTo(56, line + 2); above.LineTo(0, line + 6 - 7 * id.PartSide);
                above.Close();
                break;
            default: // a rounded hairline with temples reaching lower
                above.MoveTo(0, -20); above.LineTo(Base, -20); above.LineTo(Base, line + 16);
                above.QuadTo(56, line - 8, 0, line + 16);
                above.Close();
                break;
        }
        using var clipped = cap.Op(above, SKPathOp.Intersect);
        if (clipped != null) c.DrawPath(clipped, hair);
    }

    private static void DrawEyes(SKCanvas c, FaceIdentity id, FaceNuisance n, float[] lm)
    {
        for (int e = 0; e < 2; e++)
        {
            float x = lm[2 * e], y = lm[2 * e + 1];
            float ry = Math.Max(0.4f, id.EyeRy * n.EyeOpen);
            var rect = new SKRect(x - id.EyeRx, y - ry, x + id.EyeRx, y + ry);
            using var eyePath = new SKPath();
            eyePath.AddOval(rect);
            using (var white = Fill(new SKColor(238, 236, 230))) c.DrawPath(eyePath, white);
            c.Save();
            c.ClipPath(eyePath, SKClipOperation.Intersect, true);
            float ir = id.EyeRy * 0.85f + 0.6f;
            using (var iris = Fill(id.Iris)) c.DrawCircle(x + n.GazeX, y + n.GazeY, ir, iris);
            using (var pupil = Fill(new SKColor(12, 10, 10))) c.DrawCircle(x + n.GazeX, y + n.GazeY, ir * 0.45f, pupil);
            c.Restore();
            using var lid = Stroke(Shade(id.Skin, 0.45f), 1.1f);
            c.DrawArc(rect, 180, 180, false, lid);
        }
    }

    private static void DrawBrows(SKCanvas c, FaceIdentity id, float[] lm)
    {
        using var brow = Stroke(Shade(id.Hair, 0.8f), id.BrowThickness);
        for (int e = 0; e < 2; e++)
        {
            float side = e == 0 ? -1 : 1; // -1 left eye (image left)
            float x = lm[2 * e], y = lm[2 * e + 1] - id.EyeRy - id.BrowGap;
            float half = id.BrowLength / 2;
            // Inner end near the nose; tilt raises/lowers the outer end symmetrically.
            var inner = new SKPoint(x - side * half, y + id.BrowTilt * half);
            var outer = new SKPoint(x + side * half, y - id.BrowTilt * half);
            using var p = new SKPath();
            p.MoveTo(inner);
            p.QuadTo(x, y - id.BrowArch, outer.X, outer.Y);
            c.DrawPath(p, brow);
        }
    }

    private static void DrawNose(SKCanvas c, FaceIdentity id, float[] lm)
    {
        float x = lm[4], y = lm[5];
        float w = id.NoseWidth / 2;
        var dark = Shade(id.Skin, 0.6f);
        using var line = Stroke(dark, 1.3f);
        switch (id.NoseStyle)
        {
            case 0: // bridge lines converging to wings
                c.DrawLine(x - 2.5f, y - id.NoseBridge, x - w * 0.7f, y - 1, line);
                c.DrawLine(x + 2.5f, y - id.NoseBridge, x + w * 0.7f, y - 1, line);
                break;
            case 1: // single side line (profile shading)
                c.DrawLine(x + 1.5f, y - id.NoseBridge, x + w * 0.5f, y - 2, line);
                break;
            default: // rounded tip
                using (var tip = Fill(Shade(id.Skin, 0.9f))) c.DrawCircle(x, y - 1, w * 0.45f + 1, tip);
                break;
        }
        using var wing = Stroke(dark, 1.4f);
        c.DrawArc(new SKRect(x - w, y - 3, x - w * 0.2f, y + 3), 90, 180, false, wing);
        c.DrawArc(new SKRect(x + w * 0.2f, y - 3, x + w, y + 3), 270, 180, false, wing);
        using var nostril = Fill(Shade(id.Skin, 0.4f));
        c.DrawOval(new SKPoint(x - w * 0.35f, y + 1.5f), new SKSize(w * 0.22f + 0.5f, 1.1f), nostril);
        c.DrawOval(new SKPoint(x + w * 0.35f, y + 1.5f), new SKSize(w * 0.22f + 0.5f, 1.1f), nostril);
    }

    private static void DrawMouth(SKCanvas c, FaceIdentity id, FaceNuisance n, float[] lm)
    {
        var l = new SKPoint(lm[6], lm[7]);
        var r = new SKPoint(lm[8], lm[9]);
        float mx = (l.X + r.X) / 2, my = (l.Y + r.Y) / 2;
        // Positive curve/smile bends the centre down relative to the corners (a smile).
        float bend = id.MouthCurve + n.Smile * 0.8f;
        float open = n.MouthOpen;
        using var lips = new SKPath();
        lips.MoveTo(l);
        lips.QuadTo(mx, my + bend - id.LipThickness * 1.6f, r.X, r.Y);
        lips.QuadTo(mx, my + bend + open + id.LipThickness * 2.2f, l.X, l.Y);
        lips.Close();
        using (var lp = Fill(id.Lip)) c.DrawPath(lips, lp);
        using var gap = new SKPath();
        gap.MoveTo(l);
        gap.QuadTo(mx, my + bend, r.X, r.Y);
        if (open > 0)
        {
            gap.QuadTo(mx, my + bend + open * 1.6f, l.X, l.Y);
            gap.Close();
            using var inside = Fill(new SKColor(70, 20, 25));
            c.DrawPath(gap, inside);
        }
        using var seam = Stroke(Shade(id.Lip, 0.55f), 1.0f);
        c.DrawPath(gap, seam);
    }

    private static void DrawMarksUnder(SKCanvas c, FaceIdentity id, float[] lm)
    {
        if (id.Mark == 4) // beard: darker lower face under the mouth
        {
            using var beard = Fill(id.Hair.WithAlpha(200));
            using var face = FacePath(id);
            using var below = new SKPath();
            below.AddRect(new SKRect(0, lm[7] - 4, Base, Base + 20));
            using var p = face.Op(below, SKPathOp.Intersect);
            if (p != null) c.DrawPath(p, beard);
        }
    }

    private static void DrawMarksOver(SKCanvas c, FaceIdentity id, float[] lm)
    {
        switch (id.Mark)
        {
            case 1:
                using (var mole = Fill(new SKColor(60, 35, 25))) c.DrawCircle(56 + id.MarkX, id.MarkY, id.MarkSize, mole);
                break;
            case 2:
                using (var m = Stroke(Shade(id.Hair, 0.9f), 2.6f))
                {
                    float y = (lm[5] + Math.Min(lm[7], lm[9])) / 2 + 1;
                    c.DrawLine(lm[6] + 2, y + 1.5f, (lm[6] + lm[8]) / 2, y - 0.5f, m);
                    c.DrawLine((lm[6] + lm[8]) / 2, y - 0.5f, lm[8] - 2, y + 1.5f, m);
                }
                break;
            case 3:
                // Freckles: a fixed pattern per identity from the mark parameters.
                var fr = new SplitMix((ulong)(id.MarkX * 1000 + id.MarkY * 7));
                using (var f = Fill(Shade(id.Skin, 0.7f)))
                    for (int i = 0; i < 14; i++)
                    {
                        float side = i % 2 == 0 ? -1 : 1;
                        c.DrawCircle(56 + side * (float)fr.Uniform(9, 22), (float)fr.Uniform(60, 72), (float)fr.Uniform(0.6, 1.1), f);
                    }
                break;
        }
    }

    private static void DrawOccluders(SKCanvas c, FaceIdentity id, FaceNuisance n, float[] lm)
    {
        if (n.Glasses > 0)
        {
            float rx = id.EyeRx + 4, ry = id.EyeRy + 4.5f;
            using var frame = Stroke(Shade(n.Occluder, 0.5f), 1.6f);
            using var lens = Fill(n.Glasses == 2 ? new SKColor(25, 25, 30, 235) : new SKColor(220, 235, 255, 40));
            for (int e = 0; e < 2; e++)
            {
                var rect = new SKRect(lm[2 * e] - rx, lm[2 * e + 1] - ry, lm[2 * e] + rx, lm[2 * e + 1] + ry);
                c.DrawRoundRect(rect, 4, 4, lens);
                c.DrawRoundRect(rect, 4, 4, frame);
            }
            c.DrawLine(lm[0] + rx, lm[1] - 1, lm[2] - rx, lm[3] - 1, frame);
            c.DrawLine(lm[0] - rx, lm[1] - 1, 56 - id.FaceHalfW, lm[1] + 1, frame);
            c.DrawLine(lm[2] + rx, lm[3] - 1, 56 + id.FaceHalfW, lm[3] + 1, frame);
        }
        if (n.Mask)
        {
            using var mask = Fill(n.Occluder);
            using var p = new SKPath();
            float top = lm[5] - 8;
            p.MoveTo(56 - id.FaceHalfW * 0.95f, top + 4);
            p.QuadTo(56, top - 6, 56 + id.FaceHalfW * 0.95f, top + 4);
            p.LineTo(56 + id.FaceHalfW * 0.75f, id.FaceCy + id.FaceHalfH * 0.8f);
            p.QuadTo(56, id.FaceCy + id.FaceHalfH + 8, 56 - id.FaceHalfW * 0.75f, id.FaceCy + id.FaceHalfH * 0.8f);
            p.Close();
            c.DrawPath(p, mask);
            using var strap = Stroke(Shade(n.Occluder, 0.8f), 1.2f);
            c.DrawLine(56 - id.FaceHalfW * 0.95f, top + 4, 56 - id.FaceHalfW - 2, lm[1] + 8, strap);
            c.DrawLine(56 + id.FaceHalfW * 0.95f, top + 4, 56 + id.FaceHalfW + 2, lm[3] + 8, strap);
        }
        if (n.Hand)
        {
            // A palm blob with fingers coming in from one side, in a skin-like colour that is not the face's.
            var handSkin = FaceIdentity.Rgb(id.Skin.Red * 0.9 + 20, id.Skin.Green * 0.85 + 10, id.Skin.Blue * 0.85);
            using var hand = Fill(handSkin);
            using var edge = Stroke(Shade(handSkin, 0.7f), 0.8f);
            float x0 = n.HandSide < 0 ? 8 : 104;
            c.DrawOval(new SKPoint(x0, n.HandY + 6), new SKSize(20, 16), hand);
            for (int f = 0; f < 4; f++)
            {
                float fy = n.HandY - 6 + f * 5.5f;
                float x1 = x0 - n.HandSide * (28 - Math.Abs(f - 1.5f) * 4);
                using var finger = new SKPath();
                finger.MoveTo(x0, fy); finger.LineTo(x1, fy);
                using var fp = Stroke(handSkin, 5f);
                c.DrawPath(finger, fp);
            }
            c.DrawOval(new SKPoint(x0, n.HandY + 6), new SKSize(20, 16), edge);
        }
    }

    /// <summary>Lighting gradient, brightness and colour cast, Gaussian blur, then pixel noise; RGBA in, RGB out.</summary>
    private static byte[] Photometric(byte[] rgba, int size, FaceNuisance n, SplitMix r)
    {
        int px = size * size;
        var f = new float[px * 3];
        float lx = MathF.Cos(n.LightAngle), ly = MathF.Sin(n.LightAngle);
        float half = size / 2f;
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++)
            {
                int i = y * size + x;
                float g = n.Brightness * (1 + n.LightStrength * ((x - half) * lx + (y - half) * ly) / half);
                f[3 * i] = rgba[4 * i] * g * n.CastR;
                f[3 * i + 1] = rgba[4 * i + 1] * g * n.CastG;
                f[3 * i + 2] = rgba[4 * i + 2] * g * n.CastB;
            }
        float sigma = n.Blur * size / Base;
        if (sigma > 0.05f) GaussianBlur(f, size, sigma);
        float noise = n.Noise;
        var rgb = new byte[px * 3];
        for (int i = 0; i < f.Length; i++)
        {
            double v = f[i] + (noise > 0 ? noise * r.Gaussian() : 0);
            rgb[i] = FaceIdentity.Clamp(v);
        }
        return rgb;
    }

    private static void GaussianBlur(float[] img, int size, float sigma)
    {
        int rad = Math.Max(1, (int)MathF.Ceiling(2.5f * sigma));
        var k = new float[2 * rad + 1];
        float sum = 0;
        for (int i = -rad; i <= rad; i++) sum += k[i + rad] = MathF.Exp(-i * i / (2 * sigma * sigma));
        for (int i = 0; i < k.Length; i++) k[i] /= sum;
        var tmp = new float[img.Length];
        // Horizontal then vertical pass, clamping at the border.
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++)
                for (int ch = 0; ch < 3; ch++)
                {
                    float a = 0;
                    for (int j = -rad; j <= rad; j++)
                        a += k[j + rad] * img[3 * (y * size + Math.Clamp(x + j, 0, size - 1)) + ch];
                    tmp[3 * (y * size + x) + ch] = a;
                }
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++)
                for (int ch = 0; ch < 3; ch++)
                {
                    float a = 0;
                    for (int j = -rad; j <= rad; j++)
                        a += k[j + rad] * tmp[3 * (Math.Clamp(y + j, 0, size - 1) * size + x) + ch];
                    img[3 * (y * size + x) + ch] = a;
                }
    }
}
