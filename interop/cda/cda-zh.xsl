<?xml version="1.0" encoding="UTF-8"?>
<!-- zhiliao: renders a WS/T 500 CDA R2 document (治疗记录, 知情同意书) for a browser, in Chinese.
     Written for zhiliao's two document types; HL7's generic CDA.xsl is English and larger than they need. -->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform" xmlns:n1="urn:hl7-org:v3">
  <xsl:output method="html" encoding="UTF-8" indent="yes"/>

  <xsl:template match="/">
    <html lang="zh-CN">
      <head>
        <meta charset="UTF-8"/>
        <title><xsl:value-of select="n1:ClinicalDocument/n1:title"/></title>
        <style>
          body { font-family: "Noto Sans CJK SC", "Microsoft YaHei", sans-serif; max-width: 52em; margin: 2em auto; color: #222; }
          h1 { text-align: center; font-size: 1.5em; margin-bottom: .2em; }
          .org { text-align: center; color: #555; margin-bottom: 1.2em; }
          table.header { width: 100%; border-collapse: collapse; margin-bottom: 1.2em; }
          table.header th { text-align: left; width: 8em; color: #555; font-weight: normal; padding: .25em .5em; }
          table.header td { padding: .25em .5em; border-bottom: 1px solid #ddd; }
          h2 { font-size: 1.1em; border-left: 4px solid #2f6fad; padding-left: .5em; margin-top: 1.4em; }
          ul { padding-left: 1.4em; } li { margin: .2em 0; }
          .sign { margin-top: 2em; display: flex; justify-content: space-between; color: #333; }
          @media print { body { margin: 0; } }
        </style>
      </head>
      <body>
        <xsl:apply-templates select="n1:ClinicalDocument"/>
      </body>
    </html>
  </xsl:template>

  <xsl:template match="n1:ClinicalDocument">
    <h1><xsl:value-of select="n1:title"/></h1>
    <div class="org"><xsl:value-of select="n1:custodian/n1:assignedCustodian/n1:representedCustodianOrganization/n1:name"/></div>
    <table class="header">
      <tr><th>患者姓名</th><td><xsl:value-of select="n1:recordTarget/n1:patientRole/n1:patient/n1:name"/></td>
          <th>性别</th><td><xsl:value-of select="n1:recordTarget/n1:patientRole/n1:patient/n1:administrativeGenderCode/@displayName"/></td></tr>
      <tr><th>病案号</th><td><xsl:value-of select="n1:recordTarget/n1:patientRole/n1:id[@root='2.16.156.10011.1.11']/@extension"/></td>
          <th>出生日期</th><td><xsl:call-template name="date"><xsl:with-param name="ts" select="n1:recordTarget/n1:patientRole/n1:patient/n1:birthTime/@value"/></xsl:call-template></td></tr>
      <tr><th>科室</th><td><xsl:value-of select="n1:componentOf/n1:encompassingEncounter/n1:location/n1:healthCareFacility/n1:serviceProviderOrganization/n1:name"/></td>
          <th>文档版本</th><td>第 <xsl:value-of select="n1:versionNumber/@value"/> 版<xsl:if test="n1:relatedDocument[@typeCode='RPLC']">（替代 <xsl:value-of select="n1:relatedDocument/n1:parentDocument/n1:id/@extension"/>）</xsl:if></td></tr>
      <tr><th>文档编号</th><td colspan="3"><xsl:value-of select="n1:id/@extension"/></td></tr>
    </table>
    <xsl:for-each select="n1:component/n1:structuredBody/n1:component/n1:section">
      <h2><xsl:value-of select="n1:title"/></h2>
      <ul>
        <xsl:for-each select="n1:text/n1:list/n1:item"><li><xsl:value-of select="."/></li></xsl:for-each>
      </ul>
    </xsl:for-each>
    <div class="sign">
      <span><xsl:value-of select="n1:legalAuthenticator/n1:assignedEntity/n1:code/@displayName"/>：<xsl:value-of select="n1:legalAuthenticator/n1:assignedEntity/n1:assignedPerson/n1:name"/></span>
      <xsl:if test="n1:authenticator">
        <span>患者/法定代理人：<xsl:value-of select="n1:authenticator/n1:assignedEntity/n1:assignedPerson/n1:name"/></span>
      </xsl:if>
      <span>签名时间：<xsl:call-template name="datetime"><xsl:with-param name="ts" select="n1:legalAuthenticator/n1:time/@value"/></xsl:call-template></span>
    </div>
  </xsl:template>

  <xsl:template name="date">
    <xsl:param name="ts"/>
    <xsl:if test="string-length($ts) &gt;= 8">
      <xsl:value-of select="concat(substring($ts,1,4),'-',substring($ts,5,2),'-',substring($ts,7,2))"/>
    </xsl:if>
  </xsl:template>

  <xsl:template name="datetime">
    <xsl:param name="ts"/>
    <xsl:call-template name="date"><xsl:with-param name="ts" select="$ts"/></xsl:call-template>
    <xsl:if test="string-length($ts) &gt;= 12">
      <xsl:value-of select="concat(' ',substring($ts,9,2),':',substring($ts,11,2))"/>
    </xsl:if>
  </xsl:template>
</xsl:stylesheet>
